/* rules.h — offload rules (libvma.conf grammar, /etc/shim.conf). The socket layer
 * asks rules_offload() once per role decision; the first application-id section that
 * matches the program applies, the first rule of the role in it that matches decides,
 * and no match means offload. */
#ifndef SHIM_RULES_H
#define SHIM_RULES_H

#include <netinet/in.h>
#include <stdbool.h>

enum shim_role {
	SHIM_ROLE_TCP_SERVER,
	SHIM_ROLE_TCP_CLIENT,
	SHIM_ROLE_UDP_SENDER,
	SHIM_ROLE_UDP_RECEIVER,
	SHIM_ROLE_UDP_CONNECT,
};

/* Load SHIM_CONFIG_FILE (params must be ready). Errors are logged, never fatal. */
int rules_init(void);
/* Decide one socket role. local/remote may be NULL when unknown; for
 * udp_receiver and tcp_server the local address is the one that matters. */
bool rules_offload(enum shim_role role, const struct sockaddr_in *local,
		   const struct sockaddr_in *remote);
/* Extra API add_conf_rule(): parse one line and put it at the head. 0 or -EINVAL. */
int rules_add_line(const char *line);

#endif

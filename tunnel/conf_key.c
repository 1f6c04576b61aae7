/* The YAML getters of WireGuard keys (see conf.h). Apart from conf.c because
 * they need key.c and so libcrypto: egress_conf stays libyaml only. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "tunnel/conf.h"
#include "tunnel/key.h"

int conf_get_key(struct conf *c, int node, const char *key, uint8_t out[32])
{
	const char *v;
	int ret;

	ret = conf_get_scalar(c, node, key, &v);
	if (ret < 0)
		return ret;
	if (key_from_base64(out, v) < 0)
		return conf_bad_value(c, node, key, "is not a base64 WireGuard key");
	return 0;
}

int conf_get_key_file(struct conf *c, int node, const char *key, uint8_t out[32])
{
	char path[4096], q[CONF_QUOTE_SIZE];
	struct stat st;
	int ret;

	ret = conf_get_path(c, node, key, path, sizeof(path));
	if (ret < 0)
		return ret;
	conf_quote(c, node, q);
	/* A FIFO or a device would block or never end: only regular files. */
	if (stat(path, &st) < 0)
		return conf_error(c, node, "%s: cannot read \"%s\": %s", key, q, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return conf_error(c, node, "%s: cannot read \"%s\": not a regular file", key, q);
	ret = key_read_file(out, path);
	if (ret == -EINVAL)
		return conf_error(c, node, "%s: \"%s\" does not hold a base64 WireGuard key", key,
		                  q);
	if (ret < 0)
		return conf_error(c, node, "%s: cannot read \"%s\": %s", key, q, strerror(-ret));
	return 0;
}

/* The YAML getters of WireGuard keys (see conf.h). Apart from conf.c because
 * they need key.c and so libcrypto: egress_conf stays libyaml only. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "tunnel/conf.h"
#include "tunnel/crypto.h"
#include "tunnel/key.h"
#include "tunnel/log.h"
#include "tunnel/wg.h"

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

/* Who besides the owner may touch a key file; as wg-quick, which warns about
 * a world-accessible configuration, but group too: a key is never shared. */
#define KEY_FILE_OTHERS (S_IRWXG | S_IRWXO)

int conf_get_key_file(struct conf *c, int node, const char *key, bool strict, uint8_t out[32])
{
	char path[4096], q[CONF_QUOTE_SIZE];
	mode_t mode = 0;
	int ret;

	ret = conf_get_path(c, node, key, path, sizeof(path));
	if (ret < 0)
		return ret;
	conf_quote(c, node, q);
	/* One open, and every check on that descriptor (see key_read_file). */
	ret = key_read_file(out, path, &mode);
	if (ret == -EISDIR || ret == -ENODEV)
		return conf_error(c, node, "%s: cannot read \"%s\": not a regular file", key, q);
	if (ret == -EINVAL)
		return conf_error(c, node, "%s: \"%s\" does not hold a base64 WireGuard key", key,
		                  q);
	if (ret < 0)
		return conf_error(c, node, "%s: cannot read \"%s\": %s", key, q, strerror(-ret));
	if (!(mode & KEY_FILE_OTHERS))
		return 0;
	if (strict) {
		crypto_wipe(out, 32);
		return conf_error(c, node,
		                  "%s: \"%s\" is accessible by group or others (mode %04o), "
		                  "refused with strict_key_permissions: chmod 600 it",
		                  key, q, (unsigned)mode);
	}
	log_warnx("%s:%u:%u: %s: \"%s\" is accessible by group or others (mode %04o): chmod 600 "
	          "it",
	          conf_file_name(c), conf_line(c, node), conf_column(c, node), key, q,
	          (unsigned)mode);
	return 0;
}

int conf_get_offload(struct conf *c, int node, struct wg_offload *o)
{
	static const char *const keys[] = {"tun_tso", "tun_uso", "udp_gso", "udp_gro", NULL};
	bool *const fields[] = {&o->tun_tso, &o->tun_uso, &o->udp_gso, &o->udp_gro};
	int ret;

	ret = conf_expect(c, node, "offload", CONF_MAPPING);
	if (ret < 0)
		return ret;
	ret = conf_map_check(c, node, keys);
	if (ret < 0)
		return ret;
	for (size_t i = 0; keys[i]; i++) {
		int n = conf_map_find(c, node, keys[i]);

		if (n && (ret = conf_get_bool(c, n, keys[i], fields[i])) < 0)
			return ret;
	}
	return 0;
}

/* YAML configuration helpers on libyaml's document API: see conf.h. */
#include "tunnel/conf.h"

#include <ctype.h>
#include <net/if.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "tunnel/file.h"
#include "tunnel/prefix.h"

/* A gateway.yaml of 65,534 clients (a /16) with IPv6 addresses and
 * preshared key files is about 15 MB; twice that still bounds what a wrong
 * file (a disk image, say) can make us read. */
#define CONF_FILE_MAX (32 << 20)
#define QUOTE_MAX     64 /* bytes of a bad value shown in a message */

struct conf {
	yaml_document_t doc;
	bool has_doc;
	char *name; /* the file as messages name it */
	char *dir;  /* where relative paths start; NULL: the current directory */
	char *err;
	size_t errlen;
};

static const yaml_node_t *node_of(const struct conf *c, int id)
{
	if (id < 1 || id > c->doc.nodes.top - c->doc.nodes.start)
		return NULL;
	return c->doc.nodes.start + id - 1;
}

static __attribute__((format(printf, 4, 0))) int report(struct conf *c, size_t line, size_t col,
                                                        const char *fmt, va_list ap)
{
	int n;

	if (!c->err || !c->errlen)
		return -EINVAL;
	n = snprintf(c->err, c->errlen, "%s:%zu:%zu: ", c->name, line, col);
	if (n >= 0 && (size_t)n < c->errlen)
		vsnprintf(c->err + n, c->errlen - n, fmt, ap);
	return -EINVAL;
}

static __attribute__((format(printf, 4, 5))) int report_at(struct conf *c, size_t line, size_t col,
                                                           const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(c, line, col, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int conf_error(struct conf *c, int node, const char *fmt, ...)
{
	const yaml_node_t *n = node_of(c, node);
	va_list ap;

	va_start(ap, fmt);
	report(c, n ? n->start_mark.line + 1 : 1, n ? n->start_mark.column + 1 : 1, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* s as it may appear between double quotes in a one-line message. */
static void quote(char *dst, size_t size, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	for (i = 0; i < len && i < QUOTE_MAX && o + 5 < size; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\') {
			dst[o++] = '\\';
			dst[o++] = (char)ch;
		} else if (ch >= 0x20 && ch < 0x7f) {
			dst[o++] = (char)ch;
		} else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[ch >> 4];
			dst[o++] = hex[ch & 15];
		}
	}
	if (i < len && o + 4 <= size) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
}

#define QUOTED_SIZE CONF_QUOTE_SIZE
_Static_assert(CONF_QUOTE_SIZE >= QUOTE_MAX * 4 + 8, "room for every byte escaped");

static void quote_node(char dst[QUOTED_SIZE], const yaml_node_t *n)
{
	if (n && n->type == YAML_SCALAR_NODE)
		quote(dst, QUOTED_SIZE, (const char *)n->data.scalar.value, n->data.scalar.length);
	else
		dst[0] = '\0';
}

void conf_quote(const struct conf *c, int node, char buf[CONF_QUOTE_SIZE])
{
	quote_node(buf, node_of(c, node));
}

int conf_bad_value(struct conf *c, int node, const char *key, const char *fmt, ...)
{
	const yaml_node_t *n = node_of(c, node);
	char q[QUOTED_SIZE], msg[256];
	va_list ap;

	quote_node(q, n);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return conf_error(c, node, "%s: \"%s\" %s", key, q, msg);
}

/* libyaml's message for a document it could not load. */
static int syntax_error(struct conf *c, const yaml_parser_t *p, const char *buf, size_t len)
{
	size_t line = 1, col = 1, i;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		report_at(c, 1, 1, "out of memory");
		return -ENOMEM;
	case YAML_READER_ERROR:
		/* The reader gives a byte offset, not a mark. */
		for (i = 0; i < p->problem_offset && i < len; i++) {
			if (buf[i] == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
		}
		return report_at(c, line, col, "%s", p->problem ? p->problem : "unreadable input");
	default:
		if (p->context)
			return report_at(c, p->problem_mark.line + 1, p->problem_mark.column + 1,
			                 "%s (%s at %zu:%zu)", p->problem ? p->problem : "error",
			                 p->context, p->context_mark.line + 1,
			                 p->context_mark.column + 1);
		return report_at(c, p->problem_mark.line + 1, p->problem_mark.column + 1, "%s",
		                 p->problem ? p->problem : "invalid YAML");
	}
}

static int load(struct conf *c, const char *buf, size_t len)
{
	yaml_parser_t p;
	yaml_document_t extra;
	yaml_node_t *root;
	int ret = 0;

	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&p, &c->doc)) {
		ret = syntax_error(c, &p, buf, len);
		goto out;
	}
	c->has_doc = true;
	if (!yaml_document_get_root_node(&c->doc)) {
		ret = report_at(c, 1, 1, "no YAML document in the file");
		goto out;
	}
	/* A second document would be silently ignored: refuse it. */
	if (!yaml_parser_load(&p, &extra)) {
		ret = syntax_error(c, &p, buf, len);
		goto out;
	}
	root = yaml_document_get_root_node(&extra);
	if (root)
		ret = report_at(c, root->start_mark.line + 1, root->start_mark.column + 1,
		                "only one YAML document is allowed");
	yaml_document_delete(&extra);
out:
	yaml_parser_delete(&p);
	return ret;
}

static struct conf *conf_new(const char *name, const char *dir, char *err, size_t errlen)
{
	struct conf *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->err = err;
	c->errlen = errlen;
	c->name = strdup(name);
	if (dir)
		c->dir = strdup(dir);
	if (!c->name || (dir && !c->dir)) {
		conf_free(c);
		return NULL;
	}
	return c;
}

int conf_load_buffer(struct conf **out, const char *name, const char *dir, const char *buf,
                     size_t len, char *err, size_t errlen)
{
	struct conf *c = NULL;
	int ret;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	c = conf_new(name, dir, err, errlen);
	if (!c) {
		if (err && errlen)
			snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	ret = load(c, buf, len);
	if (ret < 0) {
		conf_free(c);
		return ret;
	}
	*out = c;
	return 0;
}

int conf_load_file(struct conf **out, const char *path, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	char *dir = NULL, *buf = NULL;
	size_t len = 0;
	int ret;

	*out = NULL;
	ret = file_read_all(path, CONF_FILE_MAX, &buf, &len);
	if (ret < 0) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		goto out;
	}
	if (slash) {
		dir = strndup(path, (size_t)(slash - path));
		if (!dir) {
			ret = -ENOMEM;
			if (err && errlen)
				snprintf(err, errlen, "%s: out of memory", path);
			goto out;
		}
	}
	ret = conf_load_buffer(out, path, dir, buf, len, err, errlen);
out:
	free(dir);
	free(buf);
	return ret;
}

void conf_free(struct conf *c)
{
	if (!c)
		return;
	if (c->has_doc)
		yaml_document_delete(&c->doc);
	free(c->name);
	free(c->dir);
	free(c);
}

int conf_root(const struct conf *c)
{
	return 1; /* libyaml numbers nodes from 1, the root first */
}

static const char *type_name(yaml_node_type_t t)
{
	switch (t) {
	case YAML_SCALAR_NODE:
		return "a scalar";
	case YAML_SEQUENCE_NODE:
		return "a sequence";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

int conf_expect(struct conf *c, int node, const char *key, enum conf_type t)
{
	static const yaml_node_type_t want[] = {
	        [CONF_SCALAR] = YAML_SCALAR_NODE,
	        [CONF_SEQUENCE] = YAML_SEQUENCE_NODE,
	        [CONF_MAPPING] = YAML_MAPPING_NODE,
	};
	const yaml_node_t *n = node_of(c, node);
	yaml_node_type_t got = n ? n->type : YAML_NO_NODE;

	if (got == want[t])
		return 0;
	if (key)
		return conf_error(c, node, "%s: expected %s, found %s", key, type_name(want[t]),
		                  type_name(got));
	return conf_error(c, node, "expected %s, found %s", type_name(want[t]), type_name(got));
}

bool conf_is_null(const struct conf *c, int node)
{
	const yaml_node_t *n = node_of(c, node);
	const char *v;

	if (!n || n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = (const char *)n->data.scalar.value;
	return !strcmp(v, "") || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

static bool scalar_is(const yaml_node_t *n, const char *s)
{
	size_t len = strlen(s);

	return n && n->type == YAML_SCALAR_NODE && n->data.scalar.length == len &&
	       !memcmp(n->data.scalar.value, s, len);
}

static bool scalars_equal(const yaml_node_t *a, const yaml_node_t *b)
{
	return a->type == YAML_SCALAR_NODE && b->type == YAML_SCALAR_NODE &&
	       a->data.scalar.length == b->data.scalar.length &&
	       !memcmp(a->data.scalar.value, b->data.scalar.value, a->data.scalar.length);
}

int conf_map_check(struct conf *c, int map, const char *const *known)
{
	const yaml_node_t *m = node_of(c, map), *k, *prev;
	const yaml_node_pair_t *p, *q;
	char quoted[QUOTED_SIZE];
	size_t i;

	if (!m || m->type != YAML_MAPPING_NODE)
		return conf_expect(c, map, NULL, CONF_MAPPING);
	for (p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		k = node_of(c, p->key);
		if (!k || k->type != YAML_SCALAR_NODE)
			return conf_error(c, p->key, "expected a scalar key, found %s",
			                  type_name(k ? k->type : YAML_NO_NODE));
		quote_node(quoted, k);
		for (i = 0; known[i]; i++)
			if (scalar_is(k, known[i]))
				break;
		if (!known[i])
			return conf_error(c, p->key, "unknown key \"%s\"", quoted);
		for (q = m->data.mapping.pairs.start; q < p; q++) {
			prev = node_of(c, q->key);
			if (prev && scalars_equal(prev, k))
				return conf_error(c, p->key,
				                  "duplicate key \"%s\" (first at line %zu)",
				                  quoted, prev->start_mark.line + 1);
		}
	}
	return 0;
}

int conf_map_find(const struct conf *c, int map, const char *key)
{
	const yaml_node_t *m = node_of(c, map);
	const yaml_node_pair_t *p;

	if (!m || m->type != YAML_MAPPING_NODE)
		return 0;
	for (p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++)
		if (scalar_is(node_of(c, p->key), key))
			return p->value;
	return 0;
}

int conf_map_need(struct conf *c, int map, const char *key, int *node)
{
	*node = conf_map_find(c, map, key);
	if (!*node)
		return conf_error(c, map, "missing required key \"%s\"", key);
	return 0;
}

size_t conf_map_len(const struct conf *c, int map)
{
	const yaml_node_t *m = node_of(c, map);

	if (!m || m->type != YAML_MAPPING_NODE)
		return 0;
	return (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
}

void conf_map_pair(const struct conf *c, int map, size_t i, int *key, int *value)
{
	const yaml_node_t *m = node_of(c, map);

	*key = 0;
	*value = 0;
	if (i >= conf_map_len(c, map))
		return;
	*key = m->data.mapping.pairs.start[i].key;
	*value = m->data.mapping.pairs.start[i].value;
}

size_t conf_seq_len(const struct conf *c, int seq)
{
	const yaml_node_t *n = node_of(c, seq);

	if (!n || n->type != YAML_SEQUENCE_NODE)
		return 0;
	return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

int conf_seq_item(const struct conf *c, int seq, size_t i)
{
	const yaml_node_t *n = node_of(c, seq);

	if (i >= conf_seq_len(c, seq))
		return 0;
	return n->data.sequence.items.start[i];
}

unsigned conf_line(const struct conf *c, int node)
{
	const yaml_node_t *n = node_of(c, node);

	return n ? (unsigned)n->start_mark.line + 1 : 1;
}

unsigned conf_column(const struct conf *c, int node)
{
	const yaml_node_t *n = node_of(c, node);

	return n ? (unsigned)n->start_mark.column + 1 : 1;
}

/* The value of a scalar node, which must hold no NUL byte so that it can be
 * used as a C string. */
static int scalar(struct conf *c, int node, const char *key, const char **val, size_t *len)
{
	const yaml_node_t *n = node_of(c, node);
	int ret;

	ret = conf_expect(c, node, key, CONF_SCALAR);
	if (ret < 0)
		return ret;
	if (memchr(n->data.scalar.value, '\0', n->data.scalar.length))
		return conf_bad_value(c, node, key, "contains a NUL byte");
	*val = (const char *)n->data.scalar.value;
	*len = n->data.scalar.length;
	return 0;
}

int conf_get_scalar(struct conf *c, int node, const char *key, const char **val)
{
	size_t len;

	return scalar(c, node, key, val, &len);
}

int conf_get_str(struct conf *c, int node, const char *key, char *buf, size_t size)
{
	const char *v;
	size_t len;
	int ret;

	ret = scalar(c, node, key, &v, &len);
	if (ret < 0)
		return ret;
	if (len >= size)
		return conf_bad_value(c, node, key, "is too long (at most %zu bytes)", size - 1);
	memcpy(buf, v, len + 1);
	return 0;
}

/* Strict unsigned parsing: digits only, or 0x and hex digits; no sign, no
 * space, no overflow. */
static bool parse_u64(const char *s, uint64_t *out)
{
	unsigned base = 10, d;
	uint64_t v = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			return false;
		if (v > (UINT64_MAX - d) / base)
			return false;
		v = v * base + d;
	}
	*out = v;
	return true;
}

int conf_get_uint(struct conf *c, int node, const char *key, uint64_t min, uint64_t max,
                  uint64_t *out)
{
	const char *v;
	size_t len;
	uint64_t x;
	int ret;

	ret = scalar(c, node, key, &v, &len);
	if (ret < 0)
		return ret;
	if (!parse_u64(v, &x) || x < min || x > max)
		return conf_bad_value(c, node, key, "is not a number in %llu..%llu",
		                      (unsigned long long)min, (unsigned long long)max);
	*out = x;
	return 0;
}

int conf_get_port(struct conf *c, int node, const char *key, uint16_t *out)
{
	const char *v;
	size_t len;
	uint64_t x;
	int ret;

	ret = scalar(c, node, key, &v, &len);
	if (ret < 0)
		return ret;
	if (!parse_u64(v, &x) || x < 1 || x > 65535)
		return conf_bad_value(c, node, key, "is not a port (1-65535)");
	*out = (uint16_t)x;
	return 0;
}

int conf_get_bool(struct conf *c, int node, const char *key, bool *out)
{
	const char *v;
	size_t len;
	int ret;

	ret = scalar(c, node, key, &v, &len);
	if (ret < 0)
		return ret;
	if (!strcmp(v, "true"))
		*out = true;
	else if (!strcmp(v, "false"))
		*out = false;
	else
		return conf_bad_value(c, node, key, "is not true or false");
	return 0;
}

static const char *family_name(int family)
{
	return family == AF_INET ? "an IPv4" : family == AF_INET6 ? "an IPv6" : "an IP";
}

int conf_get_addr(struct conf *c, int node, const char *key, int family, struct prefix *out)
{
	const char *v;
	size_t len;
	int ret;

	ret = scalar(c, node, key, &v, &len);
	if (ret < 0)
		return ret;
	if (strchr(v, '/') || prefix_parse(out, v, family) < 0)
		return conf_bad_value(c, node, key, "is not %s address", family_name(family));
	return 0;
}

int conf_get_prefix(struct conf *c, int node, const char *key, int family, struct prefix *out)
{
	const char *v;
	size_t len;
	int ret;

	ret = scalar(c, node, key, &v, &len);
	if (ret < 0)
		return ret;
	if (!strchr(v, '/') || prefix_parse(out, v, family) < 0)
		return conf_bad_value(c, node, key,
		                      "is not %s address with a prefix length (ADDRESS/LENGTH)",
		                      family_name(family));
	return 0;
}

const char *conf_file_name(const struct conf *c)
{
	return c->name;
}

int conf_get_u32_opt(struct conf *c, int node, const char *key, uint32_t min, uint32_t max,
                     uint32_t *out)
{
	uint64_t v;
	int ret;

	if (!node)
		return 0;
	ret = conf_get_uint(c, node, key, min, max, &v);
	if (ret == 0)
		*out = (uint32_t)v;
	return ret;
}

bool conf_name_ok(const char *s, size_t max)
{
	size_t i;

	if (!s)
		return false;
	/* ASCII ranges, not isalnum(): a locale must not widen what nft sees. */
	for (i = 0; s[i]; i++) {
		char ch = s[i];

		if (i >= max || !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		                  (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
			return false;
	}
	return i > 0;
}

int conf_get_ifname(struct conf *c, int node, const char *key, char *buf)
{
	const char *v;
	size_t len;
	int ret;

	ret = scalar(c, node, key, &v, &len);
	if (ret < 0)
		return ret;
	/* Narrower than what the kernel takes: the names end up quoted in nft
	 * rules, and no '%' (a TUN would get a kernel-made name that differs
	 * from the configured one). scalar() refused NUL bytes, so the length
	 * is strlen's. */
	if (!conf_name_ok(v, IFNAMSIZ - 1) || !strcmp(v, ".") || !strcmp(v, ".."))
		return conf_bad_value(
		        c, node, key,
		        "is not an interface name (1-%d letters, digits, '_', '.' or '-')",
		        IFNAMSIZ - 1);
	memcpy(buf, v, len + 1);
	return 0;
}

int conf_get_path(struct conf *c, int node, const char *key, char *buf, size_t size)
{
	const char *v;
	size_t len;
	int ret;

	ret = scalar(c, node, key, &v, &len);
	if (ret < 0)
		return ret;
	if (!len)
		return conf_bad_value(c, node, key, "is not a path");
	if (conf_path_join(c, v, buf, size) < 0)
		return conf_bad_value(c, node, key, "is too long for a path");
	return 0;
}

int conf_get_sock_dir(struct conf *c, int node, const char *key, const char *file, char *buf,
                      size_t size)
{
	/* sizeof(sun_path): this file includes no socket header. */
	char sock[108];
	int ret, n;

	ret = conf_get_path(c, node, key, buf, size);
	if (ret < 0)
		return ret;
	n = snprintf(sock, sizeof(sock), "%s/%s", buf, file);
	if (n < 0 || (size_t)n >= sizeof(sock))
		return conf_bad_value(c, node, key,
		                      "is too long for its socket %s (a socket path has at most "
		                      "%zu bytes)",
		                      file, sizeof(sock) - 1);
	return 0;
}

int conf_path_join(const struct conf *c, const char *path, char *buf, size_t size)
{
	int n;

	if (path[0] == '/' || !c->dir)
		n = snprintf(buf, size, "%s", path);
	else
		n = snprintf(buf, size, "%s/%s", c->dir, path);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

bool conf_is_hostname(const char *s)
{
	bool letter = false;
	size_t i;

	for (i = 0; s[i]; i++) {
		if ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))
			letter = true;
		else if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.'))
			return false;
	}
	return letter && i <= 253;
}

const char *conf_split_endpoint(char *buf, char **host, bool *bracketed, uint16_t *port)
{
	char *p, *end;
	unsigned long n;

	*bracketed = buf[0] == '[';
	if (*bracketed) {
		*host = buf + 1;
		end = strchr(*host, ']');
		if (!end || end[1] != ':')
			return CONF_ENDPOINT_FORM;
		*end = '\0';
		p = end + 2;
	} else {
		p = strrchr(buf, ':');
		if (!p)
			return CONF_ENDPOINT_FORM;
		*p++ = '\0';
		*host = buf;
		if (strchr(*host, ':'))
			return "is not HOST:PORT (an IPv6 address needs brackets: [2001:db8::1]:51820)";
	}
	if (!**host || !*p || strspn(p, "0123456789") != strlen(p) || strlen(p) > 5)
		return CONF_ENDPOINT_FORM;
	n = strtoul(p, NULL, 10);
	if (n < 1 || n > 65535)
		return "has no valid port (1-65535)";
	*port = (uint16_t)n;
	return NULL;
}

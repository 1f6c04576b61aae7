/* Onboarding, the YAML texts: gateway.yaml's client list edited, and
 * edge.yaml written (see onboard.h).
 *
 * gateway.yaml is edited as text. libyaml finds the clients list and its
 * entries (its document API gives each node's style and where it starts and
 * ends), and the edit is made on whole lines of the original bytes, so that
 * nothing outside the lines it adds or removes changes. libyaml is used
 * directly rather than through tunnel/conf.h, which hides positions and
 * styles on purpose: this is the one place that needs them. Its marks count
 * lines and characters, not bytes, so the text gets its own table of line
 * starts, and the few columns read are checked to be ASCII spaces and '-'.
 * Whatever the edit gives is parsed back as gatewayd would parse it before
 * it is returned. */
#include "gateway/onboard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "gateway/config.h"
#include "tunnel/key.h"

#define FILE_NAME "gateway.yaml" /* as messages name the text */

/* ---- output: a growing buffer, or the caller's fixed one */

struct out {
	char *p;
	size_t len, cap;
	bool fixed; /* the caller's: never grown, so no copy of a key is left behind */
	int err;    /* the first failure: -ENOMEM, -ENOSPC or -EINVAL */
};

static void put(struct out *o, const char *s, size_t n)
{
	char *np;
	size_t cap;

	if (o->err)
		return;
	if (o->len + n + 1 > o->cap) {
		if (o->fixed) {
			o->err = -ENOSPC;
			return;
		}
		cap = o->cap ? o->cap : 256;
		while (cap < o->len + n + 1)
			cap *= 2;
		np = realloc(o->p, cap);
		if (!np) {
			o->err = -ENOMEM;
			return;
		}
		o->p = np;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void put_str(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static __attribute__((format(printf, 2, 3))) void put_fmt(struct out *o, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		if (!o->err)
			o->err = -ENOSPC;
		return;
	}
	put(o, line, (size_t)n);
}

static void put_spaces(struct out *o, size_t n)
{
	while (n--)
		put(o, " ", 1);
}

static bool plain_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '.' || ch == '/' || ch == '+' || ch == '=' || ch == ':' ||
	       ch == '-';
}

/* s as a YAML scalar that means s in block and flow context alike: plain
 * when it is made of safe characters and cannot be read as anything else
 * (no leading '-', '.' or ':', no trailing ':'), double-quoted otherwise. A
 * control character is -EINVAL: no file name or key needs one. */
static void put_scalar(struct out *o, const char *s, bool quote)
{
	size_t i, n = strlen(s);

	for (i = 0; i < n && plain_char(s[i]); i++)
		;
	if (!quote && n && i == n && s[0] != '-' && s[0] != '.' && s[0] != ':' && s[n - 1] != ':') {
		put(o, s, n);
		return;
	}
	put(o, "\"", 1);
	for (i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			if (!o->err)
				o->err = -EINVAL;
			return;
		}
		if (s[i] == '"' || s[i] == '\\')
			put(o, "\\", 1);
		put(o, s + i, 1);
	}
	put(o, "\"", 1);
}

static __attribute__((format(printf, 3, 4))) int fail(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* ---- the text by lines */

struct text {
	const char *buf;
	size_t len;
	size_t *start; /* start[i]: the byte where line i begins; start[n] = len */
	size_t n;      /* lines (a last one without its line break counts) */
	const char *nl;
};

static void text_free(struct text *t)
{
	free(t->start);
}

/* Lines as libyaml counts them (LF and CRLF; the other breaks YAML 1.1
 * knows are refused, as is anything whose marks would not be UTF-8's). */
static int text_index(struct text *t, const char *buf, size_t len, char *err, size_t errlen)
{
	const unsigned char *b = (const unsigned char *)buf;
	size_t i, cap = 64, bom = 0, line = 1;

	memset(t, 0, sizeof(*t));
	t->buf = buf;
	t->len = len;
	t->nl = "\n";
	if (len >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf)
		bom = 3; /* libyaml's marks start after it */
	else if (len >= 2 && ((b[0] == 0xfe && b[1] == 0xff) || (b[0] == 0xff && b[1] == 0xfe)))
		return fail(err, errlen, FILE_NAME ": UTF-16 text is not edited, only UTF-8");
	t->start = malloc(cap * sizeof(*t->start));
	if (!t->start)
		return -ENOMEM;
	t->start[0] = bom;
	for (i = bom; i < len; i++) {
		bool crlf = b[i] == '\r' && i + 1 < len && b[i + 1] == '\n';

		if (!b[i])
			return fail(err, errlen, FILE_NAME ":%zu: a NUL byte: not a text file",
			            line);
		if (b[i] == '\r' && !crlf)
			return fail(err, errlen,
			            FILE_NAME ":%zu: a carriage return that ends no line (only LF "
			                      "and CRLF line ends are edited)",
			            line);
		if ((b[i] == 0xc2 && i + 1 < len && b[i + 1] == 0x85) ||
		    (b[i] == 0xe2 && i + 2 < len && b[i + 1] == 0x80 &&
		     (b[i + 2] == 0xa8 || b[i + 2] == 0xa9)))
			return fail(err, errlen,
			            FILE_NAME ":%zu: a Unicode line break (only LF and CRLF line "
			                      "ends are edited)",
			            line);
		if (crlf && line == 1)
			t->nl = "\r\n";
		if (crlf)
			i++;
		if (b[i] != '\n')
			continue;
		if (line + 1 >= cap) {
			size_t *ns = realloc(t->start, cap * 2 * sizeof(*ns));

			if (!ns)
				return -ENOMEM;
			t->start = ns;
			cap *= 2;
		}
		t->start[line++] = i + 1;
	}
	/* A last line without a line break is a line too. */
	t->n = t->start[line - 1] < len ? line : line - 1;
	t->start[t->n] = len;
	return 0;
}

/* Where line i begins, or the end of the text past the last line. */
static size_t line_start(const struct text *t, size_t i)
{
	return i < t->n ? t->start[i] : t->len;
}

/* The column of line i's first character other than a space, -1 when
 * there is none (a blank line), with *ch that character. */
static long first_col(const struct text *t, size_t i, char *ch)
{
	size_t p = line_start(t, i), e = line_start(t, i + 1);

	for (; p < e && t->buf[p] == ' '; p++)
		;
	if (p == e || t->buf[p] == '\n' || t->buf[p] == '\r')
		return -1;
	*ch = t->buf[p];
	return (long)(p - line_start(t, i));
}

/* Line i is a comment alone: the column of its '#', else -1. */
static long comment_col(const struct text *t, size_t i)
{
	char ch = 0;
	long col = i < t->n ? first_col(t, i, &ch) : -1;

	return col >= 0 && ch == '#' ? col : -1;
}

/* Line i has its first non-space at col, and it is '-'. */
static bool dash_at(const struct text *t, size_t i, long col)
{
	char ch = 0;

	return first_col(t, i, &ch) == col && ch == '-';
}

/* The last line of an entry that ends on line last: the comment lines that
 * follow it indented deeper than its '-' sit inside it. */
static size_t entry_end(const struct text *t, size_t last, long dash_col)
{
	while (last + 1 < t->n && comment_col(t, last + 1) > dash_col)
		last++;
	return last;
}

static int no_tabs(const struct text *t, size_t from, size_t to, char *err, size_t errlen)
{
	for (size_t i = from; i <= to && i < t->n; i++)
		if (memchr(t->buf + t->start[i], '\t', t->start[i + 1] - t->start[i]))
			return fail(err, errlen,
			            FILE_NAME ":%zu: a tab in the clients list: cannot tell its "
			                      "indentation; use spaces",
			            i + 1);
	return 0;
}

/* ---- the document */

struct doc {
	yaml_document_t d;
	bool loaded;
	int root, key, value; /* the clients pair, 0 when missing */
};

static yaml_node_t *node(struct doc *d, int id)
{
	return yaml_document_get_node(&d->d, id);
}

/* Anchors, aliases (an entry could then be written in two places) and block
 * scalars (whose ends libyaml puts after the blank lines that follow) are
 * not edited; the events show them, the document does not. */
static int check_events(const char *buf, size_t len, char *err, size_t errlen)
{
	yaml_parser_t p;
	yaml_event_t ev;
	const char *bad = NULL;
	size_t line = 0;
	bool done = false;
	int ret = 0;

	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	while (!done && !bad) {
		if (!yaml_parser_parse(&p, &ev)) {
			ret = fail(err, errlen, FILE_NAME ": not valid YAML");
			break;
		}
		line = ev.start_mark.line + 1;
		if (ev.type == YAML_ALIAS_EVENT ||
		    (ev.type == YAML_SCALAR_EVENT && ev.data.scalar.anchor) ||
		    (ev.type == YAML_SEQUENCE_START_EVENT && ev.data.sequence_start.anchor) ||
		    (ev.type == YAML_MAPPING_START_EVENT && ev.data.mapping_start.anchor))
			bad = "an anchor or alias";
		else if (ev.type == YAML_SCALAR_EVENT &&
		         (ev.data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
		          ev.data.scalar.style == YAML_FOLDED_SCALAR_STYLE))
			bad = "a block scalar (| or >)";
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	if (bad)
		return fail(err, errlen, FILE_NAME ":%zu: %s: not edited, write it out plainly",
		            line, bad);
	return ret;
}

static bool scalar_is(yaml_node_t *n, const char *s)
{
	return n && n->type == YAML_SCALAR_NODE && n->data.scalar.length == strlen(s) &&
	       !memcmp(n->data.scalar.value, s, n->data.scalar.length);
}

static void doc_free(struct doc *d)
{
	if (d->loaded)
		yaml_document_delete(&d->d);
}

static int doc_load(struct doc *d, const char *buf, size_t len, char *err, size_t errlen)
{
	yaml_parser_t p;
	yaml_node_t *root;
	yaml_node_pair_t *pr;

	memset(d, 0, sizeof(*d));
	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	d->loaded = yaml_parser_load(&p, &d->d);
	yaml_parser_delete(&p);
	if (!d->loaded)
		return fail(err, errlen, FILE_NAME ": not valid YAML");
	root = yaml_document_get_root_node(&d->d);
	if (!root || root->type != YAML_MAPPING_NODE)
		return fail(err, errlen, FILE_NAME ": not a mapping");
	if (root->data.mapping.style == YAML_FLOW_MAPPING_STYLE)
		return fail(err, errlen,
		            FILE_NAME ":%zu: a flow-style ({...}) top level is not edited",
		            root->start_mark.line + 1);
	d->root = 1;
	for (pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top; pr++) {
		if (scalar_is(node(d, pr->key), "clients")) {
			d->key = pr->key;
			d->value = pr->value;
		}
	}
	return 0;
}

/* The line of the last character of a node's content, -1 for an empty
 * value (whose marks libyaml puts at the next token, lines later). The
 * shapes are gateway.yaml's, already checked: a mapping of scalars and one
 * list of mappings of scalars, so this recurses twice at most. */
static long content_end(struct doc *d, int id)
{
	yaml_node_t *n = node(d, id);
	long end;

	switch (n ? n->type : YAML_NO_NODE) {
	case YAML_SCALAR_NODE:
		if (!n->data.scalar.length && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
			return -1;
		return (long)n->end_mark.line;
	case YAML_SEQUENCE_NODE:
		if (n->data.sequence.style == YAML_FLOW_SEQUENCE_STYLE ||
		    n->data.sequence.items.top == n->data.sequence.items.start)
			return (long)n->end_mark.line;
		return content_end(d, n->data.sequence.items.top[-1]);
	case YAML_MAPPING_NODE:
		if (n->data.mapping.style == YAML_FLOW_MAPPING_STYLE ||
		    n->data.mapping.pairs.top == n->data.mapping.pairs.start)
			return (long)n->end_mark.line;
		end = content_end(d, n->data.mapping.pairs.top[-1].value);
		return end >= 0 ? end : content_end(d, n->data.mapping.pairs.top[-1].key);
	default:
		return -1;
	}
}

/* ---- checking an edit by parsing it back */

/* dir: where its relative paths start (NULL: the current directory). */
static int parse_text(const char *buf, size_t len, const char *dir, struct gw_config **cfg,
                      char *err, size_t errlen)
{
	return gw_config_parse_flags(FILE_NAME, dir, buf, len, GW_CONFIG_NO_KEY_FILES, cfg, err,
	                             errlen);
}

static bool same_client(const struct gw_client *a, const struct gw_client *b)
{
	return !strcmp(a->name, b->name) && !memcmp(a->pub, b->pub, sizeof(a->pub)) &&
	       !prefix_cmp(&a->addr, &b->addr) && a->has_addr6 == b->has_addr6 &&
	       (!a->has_addr6 || !prefix_cmp(&a->addr6, &b->addr6)) && a->has_psk == b->has_psk &&
	       a->id == b->id;
}

/* Everything but the client lists is equal. Both come from the same parser
 * into calloc'd structs, so their padding is zero alike. */
static bool same_settings(const struct gw_config *a, const struct gw_config *b)
{
	struct gw_config x, y;

	memcpy(&x, a, sizeof(x));
	memcpy(&y, b, sizeof(y));
	x.clients = y.clients = NULL;
	x.n_clients = y.n_clients = 0;
	return !memcmp(&x, &y, sizeof(x));
}

/* The edited text reads back as the old configuration with the client
 * list old's but for added (appended, NULL: none) and removed (its index,
 * or old->n_clients: none). */
static int verify(const char *buf, size_t len, const struct gw_config *old,
                  const struct gw_client *added, size_t removed, char *err, size_t errlen)
{
	struct gw_config *cfg = NULL;
	size_t i, j, want = old->n_clients + (added != NULL) - (removed < old->n_clients);
	bool ok;
	int ret;

	ret = parse_text(buf, len, NULL, &cfg, err, errlen);
	if (ret < 0)
		return ret == -ENOMEM ? ret : -EINVAL;
	ok = cfg->n_clients == want && same_settings(old, cfg);
	for (i = 0, j = 0; ok && i < old->n_clients; i++) {
		if (i == removed)
			continue;
		ok = same_client(&old->clients[i], &cfg->clients[j++]);
	}
	if (ok && added)
		ok = same_client(added, &cfg->clients[j]);
	gw_config_free(cfg);
	if (!ok)
		return fail(err, errlen,
		            FILE_NAME ": the edited text does not read back as intended; nothing "
		                      "changed (a bug: please report it with the file)");
	return 0;
}

/* The old text, checked: valid as gatewayd reads it, nothing libyaml's marks
 * would misplace, nothing that cannot be edited; *cfg and d for the edit. */
static int prepare(struct text *t, struct doc *d, struct gw_config **cfg, const char *buf,
                   size_t len, const char *dir, char *err, size_t errlen)
{
	int ret;

	*cfg = NULL;
	memset(d, 0, sizeof(*d));
	ret = text_index(t, buf, len, err, errlen);
	if (ret < 0)
		return ret;
	ret = parse_text(buf, len, dir, cfg, err, errlen);
	if (ret < 0)
		return ret == -ENOMEM ? ret : -EINVAL;
	ret = check_events(buf, len, err, errlen);
	if (ret < 0)
		return ret;
	return doc_load(d, buf, len, err, errlen);
}

/* ---- adding */

/* How the new entry is written: its first line's indentation and "- ",
 * the other lines' indentation, block or flow. */
struct style {
	char prefix[64];
	size_t cont;
	bool flow;
};

static void default_style(struct style *s, long dash_col)
{
	snprintf(s->prefix, sizeof(s->prefix), "%*s- ", (int)dash_col, "");
	s->cont = (size_t)dash_col + 2;
	s->flow = false;
}

/* Where an entry's mapping starts, which is all its style needs: the byte
 * where that line begins (SIZE_MAX past the text's lines), its column, and
 * whether it is a flow mapping. */
struct entry_head {
	size_t line_start;
	size_t col;
	bool flow;
};

/* The style of an entry whose first line is spaces, '-', spaces, then the
 * mapping: that line's start is copied. buf and len are the whole text. */
static void style_of(const char *buf, size_t len, const struct entry_head *h, long dash_col,
                     struct style *s)
{
	size_t p = h->line_start, col = h->col, e, i;

	default_style(s, dash_col);
	s->flow = h->flow;
	if (p >= len || col >= sizeof(s->prefix))
		return;
	for (e = p; e < len && buf[e] != '\n'; e++)
		;
	e += e < len; /* the line with its break: text_index's start[line + 1] */
	for (i = p; i < e && buf[i] == ' '; i++)
		;
	/* its first character other than a space is the list's '-' */
	if (i == e || buf[i] != '-' || (long)(i - p) != dash_col)
		return;
	if (p + col > e)
		return;
	/* '-', at least one space, then the mapping */
	if (col < (size_t)dash_col + 2)
		return;
	for (i = (size_t)dash_col + 1; i < col; i++)
		if (buf[p + i] != ' ')
			return;
	memcpy(s->prefix, buf + p, col);
	s->prefix[col] = '\0';
	s->cont = col;
}

static struct entry_head head_of(const struct text *t, struct doc *d, int id)
{
	yaml_node_t *m = node(d, id);
	size_t line = m->start_mark.line;

	return (struct entry_head){
	        .line_start = line < t->n ? t->start[line] : SIZE_MAX,
	        .col = m->start_mark.column,
	        .flow = m->type == YAML_MAPPING_NODE &&
	                m->data.mapping.style == YAML_FLOW_MAPPING_STYLE,
	};
}

/* The style of the list's last entry. */
static void entry_style(const struct text *t, struct doc *d, long dash_col, struct style *s)
{
	yaml_node_t *seq = node(d, d->value);
	struct entry_head h = head_of(t, d, seq->data.sequence.items.top[-1]);

	style_of(t->buf, t->len, &h, dash_col, s);
}

static void put_entry(struct out *o, const struct onboard_client *c, const struct style *s,
                      const char *nl)
{
	char a[PREFIX_STRLEN], a6[PREFIX_STRLEN], pub[KEY_B64_LEN + 1];
	const char *sep = s->flow ? ", " : "";
	struct {
		const char *key, *value;
		bool quote;
	} f[5] = {
	        {"name", c->name, false},
	        {"public_key", pub, true},
	        {"address", a, false},
	        {"address6", c->has_addr6 ? a6 : NULL, false},
	        {"preshared_key_file", c->psk_file, false},
	};

	key_to_base64(pub, c->pub);
	prefix_format_addr(&c->addr, a, sizeof(a));
	prefix_format_addr(&c->addr6, a6, sizeof(a6));
	put_str(o, s->prefix);
	if (s->flow)
		put_str(o, "{");
	for (size_t i = 0; i < 5; i++) {
		if (!f[i].value)
			continue;
		if (i && s->flow) {
			put_str(o, sep);
		} else if (i) {
			put_str(o, nl);
			put_spaces(o, s->cont);
		}
		put_fmt(o, "%s: ", f[i].key);
		put_scalar(o, f[i].value, f[i].quote);
	}
	if (s->flow)
		put_str(o, "}");
	put_str(o, nl);
}

/* The clients of old against c: what would make the parser refuse the edit
 * is said here in plain words. */
static int check_free(const struct gw_config *old, const struct onboard_client *c,
                      const struct gw_client *cl, char *err, size_t errlen)
{
	char a[PREFIX_STRLEN];

	for (size_t i = 0; i < old->n_clients; i++) {
		const struct gw_client *o = &old->clients[i];

		if (!strcmp(o->name, cl->name)) {
			fail(err, errlen, "a client named %s exists", o->name);
			return -EEXIST;
		}
		if (!memcmp(o->pub, c->pub, sizeof(o->pub))) {
			fail(err, errlen, "that public key is client %s's", o->name);
			return -EEXIST;
		}
		if (!prefix_cmp(&o->addr, &c->addr) ||
		    (c->has_addr6 && o->has_addr6 && !prefix_cmp(&o->addr6, &c->addr6))) {
			prefix_format_addr(prefix_cmp(&o->addr, &c->addr) ? &c->addr6 : &c->addr, a,
			                   sizeof(a));
			fail(err, errlen, "address %s is client %s's", a, o->name);
			return -EADDRINUSE;
		}
	}
	return 0;
}

/* c as the parser will give it back. */
static int as_gw_client(const struct onboard_client *c, const struct gw_config *old,
                        struct gw_client *cl, char *err, size_t errlen)
{
	memset(cl, 0, sizeof(*cl));
	if (!c->name || strlen(c->name) >= sizeof(cl->name))
		return fail(err, errlen, "a client name is 1-31 of A-Z a-z 0-9 _ . -");
	strcpy(cl->name, c->name);
	memcpy(cl->pub, c->pub, sizeof(cl->pub));
	cl->addr = c->addr;
	cl->has_addr6 = c->has_addr6;
	if (c->has_addr6)
		cl->addr6 = c->addr6;
	cl->has_psk = c->psk_file != NULL;
	if (c->addr.family == AF_INET && old->addr.len < 32)
		cl->id = ntohl(c->addr.v4.s_addr) & ~(~0u << (32 - old->addr.len));
	return 0;
}

/* Where the new entry goes: bytes cut_from..cut_to go (a null value), the
 * entry is inserted at byte at in style s, after a new "clients:" key at
 * column key_col when key_col >= 0. */
struct place {
	size_t cut_from, cut_to, at;
	long key_col;
	struct style s;
};

/* No clients: key yet: a new one after the last key's value, at the
 * column of the first. The deeper comment lines after it, which the new
 * entry takes in, must have no tabs (its remove would refuse them). */
static int place_new_key(const struct text *t, struct doc *d, struct place *p, char *err,
                         size_t errlen)
{
	yaml_node_t *root = node(d, d->root);
	long end = content_end(d, d->root);
	size_t line = end < 0 ? t->n : (size_t)end + 1;

	p->key_col = (long)node(d, root->data.mapping.pairs.start[0].key)->start_mark.column;
	p->at = line_start(t, line);
	default_style(&p->s, p->key_col + 2);
	if (line == 0 || line >= t->n)
		return 0;
	return no_tabs(t, line, entry_end(t, line - 1, p->key_col + 2), err, errlen);
}

/* A block list: after its last entry, in its style. */
static int place_in_list(const struct text *t, struct doc *d, struct place *p, char *err,
                         size_t errlen)
{
	yaml_node_t *k = node(d, d->key), *v = node(d, d->value);
	long dash_col = (long)v->start_mark.column;
	size_t end = entry_end(t, (size_t)content_end(d, d->value), dash_col);
	int ret;

	ret = no_tabs(t, k->start_mark.line, end, err, errlen);
	if (ret < 0)
		return ret;
	entry_style(t, d, dash_col, &p->s);
	p->at = line_start(t, end + 1);
	return 0;
}

/* The end of an edit: on success the text goes to the caller, and every
 * step's state is freed either way. */
static int finish(int ret, struct out *o, struct doc *d, struct text *t, struct gw_config *old,
                  char **out, size_t *outlen, char *err, size_t errlen)
{
	if (ret == -ENOMEM)
		fail(err, errlen, "out of memory");
	if (ret == 0) {
		*out = o->p;
		*outlen = o->len;
		o->p = NULL;
	}
	free(o->p);
	doc_free(d);
	text_free(t);
	gw_config_free(old);
	return ret;
}

/* clients: with no value, null, ~ or []: the value goes, and the list
 * follows the key's line. */
static int place_for_null(const struct text *t, struct doc *d, struct place *p, char *err,
                          size_t errlen)
{
	yaml_node_t *k = node(d, d->key), *v = node(d, d->value);
	size_t line = k->start_mark.line, i;
	int ret;

	/* and the deeper comment lines after it, which the new entry takes in
	 * (its remove would cut them) */
	ret = no_tabs(t, line, entry_end(t, line, (long)k->start_mark.column + 2), err, errlen);
	if (ret < 0)
		return ret;
	default_style(&p->s, (long)k->start_mark.column + 2);
	p->at = line_start(t, line + 1);
	if (v->type == YAML_SCALAR_NODE && !v->data.scalar.length)
		return 0;
	/* Its marks are characters: bytes on its line, when that line is
	 * ASCII up to it. */
	if (v->start_mark.line != line || v->end_mark.line != line)
		return fail(err, errlen,
		            FILE_NAME
		            ":%zu: clients: write its empty value on its line (clients: [])",
		            line + 1);
	p->cut_from = t->start[line] + v->start_mark.column;
	p->cut_to = t->start[line] + v->end_mark.column;
	for (i = t->start[line]; i < p->cut_to; i++)
		if ((unsigned char)t->buf[i] >= 0x80)
			return fail(err, errlen,
			            FILE_NAME
			            ":%zu: clients: not edited on a line with non-ASCII text",
			            line + 1);
	/* "clients: []" becomes "clients:", not "clients: ". */
	if (p->cut_to == p->at || t->buf[p->cut_to] == '\n' || t->buf[p->cut_to] == '\r')
		while (p->cut_from > t->start[line] && t->buf[p->cut_from - 1] == ' ')
			p->cut_from--;
	return 0;
}

static int find_place(const struct text *t, struct doc *d, struct place *p, char *err,
                      size_t errlen)
{
	yaml_node_t *v = d->value ? node(d, d->value) : NULL;

	memset(p, 0, sizeof(*p));
	p->key_col = -1;
	if (!v)
		return place_new_key(t, d, p, err, errlen);
	if (v->type != YAML_SEQUENCE_NODE ||
	    v->data.sequence.items.top == v->data.sequence.items.start)
		return place_for_null(t, d, p, err, errlen);
	if (v->data.sequence.style == YAML_BLOCK_SEQUENCE_STYLE)
		return place_in_list(t, d, p, err, errlen);
	return fail(err, errlen,
	            FILE_NAME ":%zu: a flow-style clients list ([...]) is not edited; write it as "
	                      "a block list (one \"- name: ...\" entry per line)",
	            v->start_mark.line + 1);
}

int onboard_yaml_add_client(const char *text, size_t len, const struct onboard_client *c,
                            char **out, size_t *outlen, char *err, size_t errlen)
{
	struct gw_config *old = NULL;
	struct out o = {0};
	struct gw_client cl;
	struct place p;
	struct text t;
	struct doc d;
	int ret;

	*out = NULL;
	*outlen = 0;
	ret = prepare(&t, &d, &old, text, len, NULL, err, errlen);
	if (ret < 0)
		goto done;
	ret = as_gw_client(c, old, &cl, err, errlen);
	if (ret < 0 || (ret = check_free(old, c, &cl, err, errlen)) < 0 ||
	    (ret = find_place(&t, &d, &p, err, errlen)) < 0)
		goto done;

	put(&o, text, p.cut_from);
	put(&o, text + p.cut_to, p.at - p.cut_to);
	if (p.at == len && len > t.start[0] && text[len - 1] != '\n')
		put_str(&o, t.nl); /* the last line had no line break */
	if (p.key_col >= 0) {
		put_spaces(&o, (size_t)p.key_col);
		put_fmt(&o, "clients:%s", t.nl);
	}
	put_entry(&o, c, &p.s, t.nl);
	put(&o, text + p.at, len - p.at);
	ret = o.err;
	if (ret == -EINVAL)
		fail(err, errlen, "preshared_key_file: a control character in the path");
	if (ret == 0)
		ret = verify(o.p, o.len, old, &cl, old->n_clients, err, errlen);
done:
	return finish(ret, &o, &d, &t, old, out, outlen, err, errlen);
}

/* ---- removing */

/* Lines first..last of the entry at index i of the block list: from its
 * '-' (with the comments directly above it at that column) to its end
 * (with the deeper comments after it). */
static int entry_lines(const struct text *t, struct doc *d, size_t i, size_t *first, size_t *last,
                       char *err, size_t errlen)
{
	yaml_node_t *k = node(d, d->key), *seq = node(d, d->value);
	yaml_node_t *m = node(d, seq->data.sequence.items.start[i]);
	long dash_col = (long)seq->start_mark.column, end;
	size_t floor = k->start_mark.line, l = seq->start_mark.line; /* the first '-' */

	if (i > 0) {
		/* Its '-' is on its mapping's first line, or above it, below the
		 * entry before. */
		floor = entry_end(t, (size_t)content_end(d, seq->data.sequence.items.start[i - 1]),
		                  dash_col);
		for (l = m->start_mark.line; l > floor && !dash_at(t, l, dash_col); l--)
			;
	}
	if (l <= floor || !dash_at(t, l, dash_col))
		return fail(err, errlen, FILE_NAME ":%zu: cannot find the \"-\" of this entry",
		            m->start_mark.line + 1);
	while (l - 1 > floor && comment_col(t, l - 1) == dash_col)
		l--;
	end = content_end(d, seq->data.sequence.items.start[i]);
	if (end < 0)
		return fail(err, errlen, FILE_NAME ":%zu: an empty entry", m->start_mark.line + 1);
	*first = l;
	*last = entry_end(t, (size_t)end, dash_col);
	return 0;
}

/* The index of the entry whose name is name, or the list's length. */
static size_t find_entry(struct doc *d, const char *name)
{
	yaml_node_t *seq = node(d, d->value), *m;
	size_t i, n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);

	for (i = 0; i < n; i++) {
		m = node(d, seq->data.sequence.items.start[i]);
		for (yaml_node_pair_t *p = m->data.mapping.pairs.start;
		     p < m->data.mapping.pairs.top; p++)
			if (scalar_is(node(d, p->key), "name") &&
			    scalar_is(node(d, p->value), name))
				return i;
	}
	return n;
}

int onboard_yaml_remove_client(const char *text, size_t len, const char *name, char **out,
                               size_t *outlen, char *err, size_t errlen)
{
	struct gw_config *old = NULL;
	struct out o = {0};
	struct text t;
	struct doc d;
	yaml_node_t *v;
	size_t i, first = 0, last = 0, n;
	int ret;

	*out = NULL;
	*outlen = 0;
	ret = prepare(&t, &d, &old, text, len, NULL, err, errlen);
	if (ret < 0)
		goto done;
	for (i = 0; i < old->n_clients && strcmp(old->clients[i].name, name); i++)
		;
	if (i == old->n_clients) {
		fail(err, errlen, "no client named %s", name);
		ret = -ENOENT;
		goto done;
	}
	v = node(&d, d.value);
	if (v->data.sequence.style != YAML_BLOCK_SEQUENCE_STYLE) {
		ret = fail(err, errlen,
		           FILE_NAME ":%zu: a flow-style clients list ([...]) is not edited; write "
		                     "it as a block list (one \"- name: ...\" entry per line)",
		           v->start_mark.line + 1);
		goto done;
	}
	n = find_entry(&d, name);
	if (n != i) { /* the parser and libyaml disagree: never edit then */
		ret = fail(err, errlen, FILE_NAME ": cannot find client %s's entry", name);
		goto done;
	}
	ret = entry_lines(&t, &d, i, &first, &last, err, errlen);
	if (ret < 0 || (ret = no_tabs(&t, first, last, err, errlen)) < 0)
		goto done;
	put(&o, text, t.start[first]);
	put(&o, text + line_start(&t, last + 1), len - line_start(&t, last + 1));
	ret = o.err;
	if (ret < 0)
		goto done;
	ret = verify(o.p ? o.p : "", o.len, old, NULL, i, err, errlen);
done:
	return finish(ret, &o, &d, &t, old, out, outlen, err, errlen);
}

/* ---- the index: the next edit of the same text without a parse */

struct ix_entry {
	size_t from, to; /* its lines' bytes, as onboard_yaml_remove_client() cuts them */
	struct entry_head head;
};

struct onboard_index {
	char *text;
	size_t len;
	const char *nl;
	struct gw_config *cfg; /* text as parsed without key files */
	long dash_col;         /* the column of the list's '-' */
	struct ix_entry *e;    /* cfg's clients' entries, in their order */
};

void onboard_index_free(struct onboard_index *ix)
{
	if (!ix)
		return;
	free(ix->text);
	gw_config_free(ix->cfg);
	free(ix->e);
	free(ix);
}

const struct gw_config *onboard_index_config(const struct onboard_index *ix)
{
	return ix->cfg;
}

const char *onboard_index_text(const struct onboard_index *ix, size_t *len)
{
	*len = ix->len;
	return ix->text;
}

bool onboard_index_is(const struct onboard_index *ix, const char *text, size_t len)
{
	return len == ix->len && !memcmp(text, ix->text, len);
}

/* An index with room for n entries and a copy of text; cfg is taken. */
static struct onboard_index *index_alloc(const char *text, size_t len, struct gw_config *cfg,
                                         size_t n)
{
	struct onboard_index *ix = calloc(1, sizeof(*ix));

	if (ix) {
		ix->text = malloc(len + 1);
		ix->e = calloc(n + 1, sizeof(*ix->e));
	}
	if (!ix || !ix->text || !ix->e) {
		onboard_index_free(ix);
		gw_config_free(cfg);
		return NULL;
	}
	memcpy(ix->text, text, len);
	ix->text[len] = '\0';
	ix->len = len;
	ix->cfg = cfg;
	return ix;
}

int onboard_index_new(const char *text, size_t len, const char *dir, struct onboard_index **out,
                      char *err, size_t errlen)
{
	struct onboard_index *ix = NULL;
	struct gw_config *cfg = NULL;
	yaml_node_t *k, *v;
	struct place p;
	struct text t;
	struct doc d;
	size_t i, n, first, last;
	int ret;

	*out = NULL;
	ret = prepare(&t, &d, &cfg, text, len, dir, err, errlen);
	if (ret < 0)
		goto done;
	ret = fail(err, errlen, FILE_NAME ": not indexed: the clients list is not a block list");
	v = d.value ? node(&d, d.value) : NULL;
	if (!v || v->type != YAML_SEQUENCE_NODE ||
	    v->data.sequence.style != YAML_BLOCK_SEQUENCE_STYLE)
		goto done;
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	/* An entry goes after a last line without a line break only with one:
	 * left to the full edit. */
	if (!n || n != cfg->n_clients || (len && text[len - 1] != '\n'))
		goto done;
	k = node(&d, d.key);
	ret = find_place(&t, &d, &p, err, errlen);
	if (ret < 0 || (ret = no_tabs(&t, k->start_mark.line, t.n, err, errlen)) < 0)
		goto done;
	ix = index_alloc(text, len, cfg, n);
	cfg = NULL;
	if (!ix) {
		ret = -ENOMEM;
		goto done;
	}
	ix->nl = t.nl;
	ix->dash_col = (long)v->start_mark.column;
	for (i = 0; i < n; i++) {
		int id = v->data.sequence.items.start[i];
		bool named = false;

		for (yaml_node_pair_t *pr = node(&d, id)->data.mapping.pairs.start;
		     pr < node(&d, id)->data.mapping.pairs.top; pr++)
			named |= scalar_is(node(&d, pr->key), "name") &&
			         scalar_is(node(&d, pr->value), ix->cfg->clients[i].name);
		if (!named) { /* the parser and libyaml disagree: never edit then */
			ret = fail(err, errlen, FILE_NAME ": cannot find client %s's entry",
			           ix->cfg->clients[i].name);
			goto done;
		}
		ret = entry_lines(&t, &d, i, &first, &last, err, errlen);
		if (ret < 0)
			goto done;
		ix->e[i].from = t.start[first];
		ix->e[i].to = line_start(&t, last + 1);
		ix->e[i].head = head_of(&t, &d, id);
	}
	if (p.at != ix->e[n - 1].to) {
		ret = fail(err, errlen, FILE_NAME ": not indexed: the list ends in two places");
		goto done;
	}
	*out = ix;
	ix = NULL;
	ret = 0;
done:
	onboard_index_free(ix);
	gw_config_free(cfg);
	doc_free(&d);
	text_free(&t);
	if (ret == -ENOMEM)
		fail(err, errlen, "out of memory");
	return ret;
}

/* ix's configuration with n clients: the first keep of ix's, then added
 * (NULL: none), without the one at index skip (n_clients: none). */
static struct gw_config *config_with(const struct gw_config *cfg, size_t skip,
                                     const struct gw_client *added)
{
	size_t n = cfg->n_clients - (skip < cfg->n_clients) + (added != NULL), j = 0;
	struct gw_config *c = malloc(sizeof(*c));

	if (!c)
		return NULL;
	*c = *cfg;
	c->clients = malloc((n + 1) * sizeof(*c->clients));
	if (!c->clients) {
		free(c);
		return NULL;
	}
	for (size_t i = 0; i < cfg->n_clients; i++)
		if (i != skip)
			c->clients[j++] = cfg->clients[i];
	if (added)
		c->clients[j++] = *added;
	c->n_clients = j;
	return c;
}

/* The new entry read back as the parser reads it, in a document of its
 * own with the settings a client is checked against: what the full edit's
 * parse of the whole text would say of it (without the line), and that it
 * gives cl. Whether it is unique was check_free()'s. */
static int check_entry(const struct gw_config *cfg, const struct out *entry,
                       const struct gw_client *cl, char *err, size_t errlen)
{
	char a[PREFIX_STRLEN], e[512];
	struct gw_config *g = NULL;
	struct out m = {0};
	const char *why;
	int ret;

	put_fmt(&m, "private_key_file: k\naddress: %s\n", prefix_format(&cfg->addr, a, sizeof(a)));
	if (cfg->has_addr6)
		put_fmt(&m, "address6: %s\n", prefix_format(&cfg->addr6, a, sizeof(a)));
	put_fmt(&m, "mark_tag: 0x%08x\nmark_id_mask: 0x%08x\nclients:\n", (unsigned)cfg->mark_tag,
	        (unsigned)cfg->mark_id_mask);
	put(&m, entry->p, entry->len);
	ret = m.err;
	if (ret == 0)
		ret = gw_config_parse_flags("entry", NULL, m.p, m.len, GW_CONFIG_NO_KEY_FILES, &g,
		                            e, sizeof(e));
	free(m.p);
	if (ret == -ENOMEM)
		return ret;
	if (ret < 0) {
		/* "entry:LINE:COLUMN: " is this document's, not the file's */
		why = strstr(e, ": ");
		fail(err, errlen, FILE_NAME ": %s", why ? why + 2 : e);
		return -EINVAL;
	}
	ret = g->n_clients == 1 && same_client(&g->clients[0], cl) ? 0 : -EINVAL;
	gw_config_free(g);
	if (ret < 0)
		fail(err, errlen,
		     FILE_NAME ": the edited text does not read back as intended; nothing changed "
		               "(a bug: please report it with the file)");
	return ret;
}

int onboard_index_add(const struct onboard_index *ix, const struct onboard_client *c, char **out,
                      size_t *outlen, struct onboard_index **next, char *err, size_t errlen)
{
	size_t n = ix->cfg->n_clients, at = ix->e[n - 1].to;
	struct onboard_index *nx = NULL;
	struct out o = {0}, en = {0};
	struct gw_config *cfg;
	struct gw_client cl;
	struct style s;
	int ret;

	*out = NULL;
	*outlen = 0;
	*next = NULL;
	ret = as_gw_client(c, ix->cfg, &cl, err, errlen);
	if (ret < 0 || (ret = check_free(ix->cfg, c, &cl, err, errlen)) < 0)
		return ret;
	style_of(ix->text, ix->len, &ix->e[n - 1].head, ix->dash_col, &s);
	put_entry(&en, c, &s, ix->nl);
	ret = en.err;
	if (ret == -EINVAL)
		fail(err, errlen, "preshared_key_file: a control character in the path");
	if (ret == 0)
		ret = check_entry(ix->cfg, &en, &cl, err, errlen);
	if (ret == 0) {
		put(&o, ix->text, at);
		put(&o, en.p, en.len);
		put(&o, ix->text + at, ix->len - at);
		ret = o.err;
	}
	cfg = ret == 0 ? config_with(ix->cfg, n, &cl) : NULL;
	if (cfg) {
		nx = index_alloc(o.p, o.len, cfg, n + 1);
		ret = nx ? 0 : -ENOMEM;
	} else if (ret == 0) {
		ret = -ENOMEM;
	}
	if (ret == 0) {
		nx->nl = ix->nl;
		nx->dash_col = ix->dash_col;
		memcpy(nx->e, ix->e, n * sizeof(*nx->e));
		nx->e[n] = (struct ix_entry){
		        .from = at,
		        .to = at + en.len,
		        .head = {.line_start = at, .col = strlen(s.prefix), .flow = s.flow},
		};
		*out = o.p;
		*outlen = o.len;
		*next = nx;
		o.p = NULL;
	}
	if (ret == -ENOMEM)
		fail(err, errlen, "out of memory");
	free(o.p);
	free(en.p);
	return ret;
}

int onboard_index_remove(const struct onboard_index *ix, const char *name, char **out,
                         size_t *outlen, struct onboard_index **next, char *err, size_t errlen)
{
	size_t n = ix->cfg->n_clients, i, cut;
	struct onboard_index *nx = NULL;
	struct gw_config *cfg;
	struct out o = {0};

	*out = NULL;
	*outlen = 0;
	*next = NULL;
	for (i = 0; i < n && strcmp(ix->cfg->clients[i].name, name); i++)
		;
	if (i == n) {
		fail(err, errlen, "no client named %s", name);
		return -ENOENT;
	}
	put(&o, ix->text, ix->e[i].from);
	put(&o, ix->text + ix->e[i].to, ix->len - ix->e[i].to);
	if (o.err) {
		fail(err, errlen, "out of memory");
		return o.err;
	}
	/* The last client gone leaves "clients:" with no list: that text is
	 * for a full edit, no index. */
	cfg = n > 1 ? config_with(ix->cfg, i, NULL) : NULL;
	nx = cfg ? index_alloc(o.p ? o.p : "", o.len, cfg, n - 1) : NULL;
	if (n > 1 && !nx) {
		free(o.p);
		fail(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (nx) {
		cut = ix->e[i].to - ix->e[i].from;
		nx->nl = ix->nl;
		nx->dash_col = ix->dash_col;
		memcpy(nx->e, ix->e, i * sizeof(*nx->e));
		for (size_t j = i + 1; j < n; j++) {
			nx->e[j - 1] = ix->e[j];
			nx->e[j - 1].from -= cut;
			nx->e[j - 1].to -= cut;
			if (nx->e[j - 1].head.line_start != SIZE_MAX)
				nx->e[j - 1].head.line_start -= cut;
		}
	}
	*out = o.p ? o.p : strdup("");
	*outlen = o.len;
	*next = nx;
	if (!*out) {
		onboard_index_free(nx);
		*next = NULL;
		fail(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

/* ---- edge.yaml */

int onboard_edge_yaml(const struct onboard_edge *e, const char *key_file, const char *psk_file,
                      char *buf, size_t size)
{
	struct out o = {.p = buf, .cap = size, .fixed = true};
	char a[PREFIX_STRLEN], pub[KEY_B64_LEN + 1];

	if (!size)
		return -ENOSPC;
	buf[0] = '\0';
	put_fmt(&o, "# edged's configuration as client %s (made by gatewayctl client add)\n",
	        e->name);
	put_str(&o, "private_key_file: ");
	put_scalar(&o, key_file, false);
	put_fmt(&o, "\naddress: %s\n", prefix_format(&e->addr, a, sizeof(a)));
	if (e->has_addr6)
		put_fmt(&o, "address6: %s\n", prefix_format(&e->addr6, a, sizeof(a)));
	put_fmt(&o, "mtu: %u\ngateway:\n  endpoint: ", e->mtu);
	put_scalar(&o, e->endpoint, true); /* "[2001:db8::1]:51820" would be a list plain */
	key_to_base64(pub, e->gw_pub);
	put_fmt(&o, "\n  public_key: \"%s\"\n", pub);
	if (psk_file) {
		put_str(&o, "  preshared_key_file: ");
		put_scalar(&o, psk_file, false);
		put_str(&o, "\n");
	}
	put_str(&o, "persistent_keepalive: 25\nroute_all: true\n");
	return o.err ? o.err : (int)o.len;
}

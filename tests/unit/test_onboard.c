/* gateway/onboard.c: gateway.yaml's client list edited as text, in every
 * indentation style it may come in, with the rest of the file kept byte for
 * byte (each case compares the whole output with the text it must be), the
 * result parsed by gw_config_parse() with its key files (the old clients plus
 * the new one, or minus the removed one), refusals with their messages; the
 * next free address (gaps, a full subnet, mark_id_mask, IPv6 pairs, 60,000
 * clients in well under a second); and the wg-quick and edge.yaml texts,
 * the latter read back by edge_config_parse(). Runs in a temporary
 * directory holding the key files the configurations name. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "edge/config.h"
#include "gateway/config.h"
#include "gateway/onboard.h"
#include "tests/unit/check.h"
#include "tunnel/key.h"
#include "tunnel/prefix.h"

/* Client public keys: any 32 bytes but the gateway's will do. */
#define K1 "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
#define K2 "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="
#define K9 "CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk="
#define KG "ERERERERERERERERERERERERERERERERERERERERERE=" /* gw.key's private key */

static char dir[] = "/tmp/test_onboard.XXXXXX";

static void write_file(const char *name, const char *text, mode_t mode)
{
	FILE *f = fopen(name, "w");

	if (!f) {
		perror(name);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
	chmod(name, mode);
}

/* carol, the client every add case adds: 100.64.0.9 with K9. */
static struct onboard_client carol(const char *psk_file)
{
	struct onboard_client c = {.name = "carol", .psk_file = psk_file};

	key_from_base64(c.pub, K9);
	c.addr = check_prefix("100.64.0.9");
	return c;
}

/* The result parses with the key files and holds want clients, the last of
 * them named last (NULL: not checked). */
static void check_parses(const char *text, size_t len, size_t want, const char *last)
{
	struct gw_config *g = NULL;
	char err[256] = "";

	CHECK_INT(gw_config_parse("out.yaml", text, len, &g, err, sizeof(err)), 0);
	CHECK_STR(err, "");
	if (!g)
		return;
	CHECK_INT(g->n_clients, want);
	if (last && g->n_clients)
		CHECK_STR(g->clients[g->n_clients - 1].name, last);
	gw_config_free(g);
}

/* How many cases the index took, so a change that made it take none fails. */
static int indexed;

/* Where in can be indexed: the index's add of c gives want_ret and want
 * (the text, or a message the full edit's holds without its line and
 * column); then, with back, its next index's remove of c gives back. */
static void check_index_add(int line, const char *in, const struct onboard_client *c, int want_ret,
                            const char *want, const char *back)
{
	struct onboard_index *ix = NULL, *next = NULL, *after = NULL;
	char err[256] = "", *out = NULL, *again = NULL;
	const char *msg = want;
	size_t len = 0, alen = 0;
	int ret;

	if (onboard_index_new(in, strlen(in), NULL, &ix, err, sizeof(err)) < 0)
		return;
	indexed++;
	ret = onboard_index_add(ix, c, &out, &len, &next, err, sizeof(err));
	if (want_ret && !strncmp(msg, "gateway.yaml:", 13)) {
		/* "gateway.yaml:10:14: address: ..." is "gateway.yaml: address: ..." */
		msg += 13;
		msg += strspn(msg, "0123456789:");
	}
	if (ret != want_ret || (!ret && (strcmp(out, want) || len != strlen(want) || !next)) ||
	    (ret && (!strstr(err, msg) || out || next || strchr(err, '\n')))) {
		fprintf(stderr, "line %d: the index's add gave %d (%s):\n%s\n---- want %d:\n%s\n",
		        line, ret, err, out ? out : "", want_ret, want);
		check_failed++;
	} else {
		check_passed++;
	}
	if (!ret && next && back) {
		ret = onboard_index_remove(next, c->name, &again, &alen, &after, err, sizeof(err));
		if (ret || strcmp(again, back) || !after) {
			fprintf(stderr, "line %d: the index's remove gave %d (%s):\n%s\n", line,
			        ret, err, again ? again : "");
			check_failed++;
		} else {
			check_passed++;
		}
	}
	free(again);
	free(out);
	onboard_index_free(after);
	onboard_index_free(next);
	onboard_index_free(ix);
}

/* Adds carol to in and compares with want; then, when there were clients
 * before, removes her again and compares with in: the two edits undo each
 * other. (A list that was empty, null or missing stays "clients:".) */
static void check_add(int line, const char *in, const struct onboard_client *c, const char *want,
                      size_t clients)
{
	char err[256] = "", *out = NULL, *back = NULL;
	size_t len = 0, blen = 0;
	int ret;

	ret = onboard_yaml_add_client(in, strlen(in), c, &out, &len, err, sizeof(err));
	if (ret || strcmp(out, want)) {
		fprintf(stderr, "line %d: add gave %d (%s):\n%s\n---- want:\n%s\n", line, ret, err,
		        out ? out : "", want);
		check_failed++;
		free(out);
		return;
	}
	check_passed++;
	CHECK_INT(len, strlen(want));
	check_parses(out, len, clients, c->name);
	check_index_add(line, in, c, 0, want, clients >= 2 ? in : NULL);
	if (clients < 2) {
		free(out);
		return;
	}
	/* Back to in, with a line break at its end if it had none. */
	ret = onboard_yaml_remove_client(out, len, c->name, &back, &blen, err, sizeof(err));
	if (ret || strncmp(back, in, strlen(in)) ||
	    strcmp(back + strlen(in), in[strlen(in) - 1] == '\n' ? "" : "\n")) {
		fprintf(stderr, "line %d: remove gave %d (%s):\n%s\n", line, ret, err,
		        back ? back : "");
		check_failed++;
	} else {
		check_passed++;
	}
	free(back);
	free(out);
}

#define HEAD                                     \
	"# the gateway\n"                        \
	"private_key_file: gw.key   # its key\n" \
	"address: 100.64.0.1/24\n"

#define ALICE_BLOCK                    \
	"  # alice's laptop\n"         \
	"  - name: alice\n"            \
	"    public_key: \"" K1 "\"\n" \
	"    address: 100.64.0.2\n"    \
	"    # address6 once the gateway has it\n"

#define BOB_BLOCK                           \
	"  - name: bob     # bob's phone\n" \
	"    public_key: \"" K2 "\"\n"      \
	"    address: 100.64.0.3\n"

#define CAROL_BLOCK                    \
	"  - name: carol\n"            \
	"    public_key: \"" K9 "\"\n" \
	"    address: 100.64.0.9\n"

static void test_add_styles(void)
{
	struct onboard_client c = carol(NULL), p = carol("carol.psk");

	/* A block list indented two spaces, comments inside and after it, and
	 * keys after it. */
	check_add(__LINE__,
	          HEAD "clients:\n" ALICE_BLOCK BOB_BLOCK "\n# the policy\npolicy_file: p.yaml\n",
	          &c,
	          HEAD "clients:\n" ALICE_BLOCK BOB_BLOCK CAROL_BLOCK
	               "\n# the policy\npolicy_file: p.yaml\n",
	          3);
	/* The last entry's deeper comments stay with it; the new one follows. */
	check_add(__LINE__, HEAD "clients:\n" BOB_BLOCK ALICE_BLOCK "mtu: 1400\n", &c,
	          HEAD "clients:\n" BOB_BLOCK ALICE_BLOCK CAROL_BLOCK "mtu: 1400\n", 3);
	/* At the end of the file, with and without its last line break. */
	check_add(__LINE__, HEAD "clients:\n" BOB_BLOCK, &c,
	          HEAD "clients:\n" BOB_BLOCK CAROL_BLOCK, 2);
	check_add(__LINE__,
	          HEAD "clients:\n  - name: bob\n    public_key: " K2 "\n    address: 100.64.0.3",
	          &c,
	          HEAD "clients:\n  - name: bob\n    public_key: " K2
	               "\n    address: 100.64.0.3\n" CAROL_BLOCK,
	          2);
	/* Indentless, "-   " and deep indentation: the last entry's style. */
	check_add(__LINE__,
	          HEAD "clients:\n- name: bob\n  public_key: \"" K2 "\"\n  address: 100.64.0.3\n",
	          &c,
	          HEAD "clients:\n- name: bob\n  public_key: \"" K2 "\"\n  address: 100.64.0.3\n"
	               "- name: carol\n  public_key: \"" K9 "\"\n  address: 100.64.0.9\n",
	          2);
	check_add(__LINE__,
	          HEAD "clients:\n      -   name: bob\n          public_key: \"" K2
	               "\"\n          address: 100.64.0.3\n",
	          &c,
	          HEAD "clients:\n      -   name: bob\n          public_key: \"" K2
	               "\"\n          address: 100.64.0.3\n"
	               "      -   name: carol\n          public_key: \"" K9
	               "\"\n          address: 100.64.0.9\n",
	          2);
	/* Flow mappings as entries: a flow mapping, on one line. */
	check_add(__LINE__,
	          HEAD "clients:\n  - {name: alice, public_key: \"" K1
	               "\",\n     address: 100.64.0.2}\n"
	               "  - {name: bob, public_key: \"" K2 "\", address: 100.64.0.3}  # bob\n"
	               "mtu: 1400\n",
	          &p,
	          HEAD "clients:\n  - {name: alice, public_key: \"" K1
	               "\",\n     address: 100.64.0.2}\n"
	               "  - {name: bob, public_key: \"" K2 "\", address: 100.64.0.3}  # bob\n"
	               "  - {name: carol, public_key: \"" K9
	               "\", address: 100.64.0.9, preshared_key_file: carol.psk}\n"
	               "mtu: 1400\n",
	          3);
	/* An empty list, null, ~, no value: a block list under the key. */
	check_add(__LINE__, HEAD "clients: []\nmtu: 1400\n", &c,
	          HEAD "clients:\n" CAROL_BLOCK "mtu: 1400\n", 1);
	check_add(__LINE__, HEAD "clients: [ ]   # none yet\nmtu: 1400\n", &c,
	          HEAD "clients:    # none yet\n" CAROL_BLOCK "mtu: 1400\n", 1);
	check_add(__LINE__, HEAD "clients: ~\n", &c, HEAD "clients:\n" CAROL_BLOCK, 1);
	check_add(__LINE__, HEAD "clients: null\n# end\n", &c,
	          HEAD "clients:\n" CAROL_BLOCK "# end\n", 1);
	check_add(__LINE__, HEAD "clients:\nmtu: 1400\n", &c,
	          HEAD "clients:\n" CAROL_BLOCK "mtu: 1400\n", 1);
	check_add(__LINE__, HEAD "clients:", &c, HEAD "clients:\n" CAROL_BLOCK, 1);
	/* No clients: key: one after the last value, before what follows it. */
	check_add(__LINE__, HEAD "mtu: 1400\n\n# the end\n", &p,
	          HEAD "mtu: 1400\nclients:\n" CAROL_BLOCK "    preshared_key_file: carol.psk\n"
	               "\n# the end\n",
	          1);
	check_add(__LINE__, HEAD "control_group:\n", &c,
	          HEAD "control_group:\nclients:\n" CAROL_BLOCK, 1);
	check_add(__LINE__, "---\n" HEAD "mtu: 1400\n...\n", &c,
	          "---\n" HEAD "mtu: 1400\nclients:\n" CAROL_BLOCK "...\n", 1);
	/* CRLF line ends stay CRLF. */
	check_add(
	        __LINE__,
	        "private_key_file: gw.key\r\naddress: 100.64.0.1/24\r\nclients:\r\n  - name: bob\r\n"
	        "    public_key: \"" K2 "\"\r\n    address: 100.64.0.3\r\n",
	        &c,
	        "private_key_file: gw.key\r\naddress: 100.64.0.1/24\r\nclients:\r\n  - name: bob\r\n"
	        "    public_key: \"" K2 "\"\r\n    address: 100.64.0.3\r\n"
	        "  - name: carol\r\n    public_key: \"" K9 "\"\r\n    address: 100.64.0.9\r\n",
	        2);
	/* Non-ASCII comments: libyaml counts characters, the edit bytes. */
	check_add(__LINE__,
	          HEAD "clients:   # für alle\n  - name: bob    # Bobs Telefon, 日本\n"
	               "    public_key: \"" K2 "\"\n    address: 100.64.0.3\n",
	          &c,
	          HEAD "clients:   # für alle\n  - name: bob    # Bobs Telefon, 日本\n"
	               "    public_key: \"" K2 "\"\n    address: 100.64.0.3\n" CAROL_BLOCK,
	          2);
}

static void test_add_v6_psk(void)
{
	struct onboard_client c = carol("keys/carol's.psk");

	c.has_addr6 = true;
	c.addr6 = check_prefix("fd00:64::9");
	check_add(__LINE__, HEAD "address6: fd00:64::1/64\nclients:\n" BOB_BLOCK, &c,
	          HEAD "address6: fd00:64::1/64\nclients:\n" BOB_BLOCK CAROL_BLOCK
	               "    address6: fd00:64::9\n"
	               "    preshared_key_file: \"keys/carol's.psk\"\n",
	          2);
}

static void check_refused(int line, const char *in, const struct onboard_client *c, int want_ret,
                          const char *want_err)
{
	char err[256] = "", *out = NULL;
	size_t len = 0;
	int ret = onboard_yaml_add_client(in, strlen(in), c, &out, &len, err, sizeof(err));

	if (ret != want_ret || !strstr(err, want_err) || out || strchr(err, '\n')) {
		fprintf(stderr, "line %d: add gave %d \"%s\", want %d \"%s\"\n", line, ret, err,
		        want_ret, want_err);
		check_failed++;
	} else {
		check_passed++;
	}
	free(out);
	check_index_add(line, in, c, want_ret, want_err, NULL);
}

static void test_add_refused(void)
{
	struct onboard_client c = carol(NULL), x = carol(NULL);

	check_refused(__LINE__,
	              HEAD "clients: [{name: bob, public_key: \"" K2 "\", address: 100.64.0.3}]\n",
	              &c, -EINVAL,
	              "gateway.yaml:4: a flow-style clients list ([...]) is not edited");
	check_refused(__LINE__, "{private_key_file: gw.key, address: 100.64.0.1/24}\n", &c, -EINVAL,
	              "gateway.yaml:1: a flow-style ({...}) top level is not edited");
	check_refused(__LINE__, HEAD "mtu: &m 1400\n", &c, -EINVAL,
	              "gateway.yaml:4: an anchor or alias: not edited");
	check_refused(__LINE__,
	              HEAD "clients:\n  - &b {name: bob, public_key: \"" K2
	                   "\", address: 100.64.0.3}\n",
	              &c, -EINVAL, "gateway.yaml:5: an anchor or alias");
	check_refused(__LINE__, "private_key_file: |\n  gw.key\naddress: 100.64.0.1/24\n", &c,
	              -EINVAL, "gateway.yaml:1: a block scalar (| or >)");
	check_refused(__LINE__, HEAD "clients:\n" BOB_BLOCK "    #\tcommented out\n", &c, -EINVAL,
	              "gateway.yaml:8: a tab in the clients list");
	check_refused(__LINE__, HEAD "clients:\n  - name: bob\r    address: 1\n", &c, -EINVAL,
	              "gateway.yaml:5: a carriage return that ends no line");
	check_refused(__LINE__, HEAD "# \xe2\x80\xa8\n", &c, -EINVAL, "a Unicode line break");
	check_refused(__LINE__, "\xff\xfeprivate_key_file", &c, -EINVAL, "UTF-16");
	/* Not valid now: the parser's own message. */
	check_refused(__LINE__, HEAD "mtu: 99\n", &c, -EINVAL,
	              "gateway.yaml:4:6: mtu: \"99\" is not a number in 1280..9000");
	check_refused(__LINE__, "", &c, -EINVAL, "gateway.yaml:1:1:");
	/* What is taken, in plain words. */
	check_refused(__LINE__, HEAD "clients:\n" BOB_BLOCK,
	              &(struct onboard_client){.name = "bob"}, -EEXIST,
	              "a client named bob exists");
	key_from_base64(x.pub, K2);
	check_refused(__LINE__, HEAD "clients:\n" BOB_BLOCK, &x, -EEXIST,
	              "that public key is client bob's");
	x = carol(NULL);
	x.addr = check_prefix("100.64.0.3");
	check_refused(__LINE__, HEAD "clients:\n" BOB_BLOCK, &x, -EADDRINUSE,
	              "address 100.64.0.3 is client bob's");
	/* What the parser refuses in the new entry. */
	x.addr = check_prefix("100.64.1.3");
	check_refused(__LINE__, HEAD "clients:\n" BOB_BLOCK, &x, -EINVAL,
	              "gateway.yaml:10:14: address: \"100.64.1.3\" is outside the client subnet "
	              "100.64.0.0/24");
	x = carol(NULL);
	x.name = "no spaces";
	check_refused(__LINE__, HEAD "clients:\n" BOB_BLOCK, &x, -EINVAL,
	              "name: \"no spaces\" is not a client name");
	x = carol(NULL);
	x.has_addr6 = true;
	x.addr6 = check_prefix("fd00:64::9");
	check_refused(__LINE__, HEAD "clients:\n" BOB_BLOCK, &x, -EINVAL,
	              "address6: \"fd00:64::9\" needs address6 on the gateway");
	x = carol("a\nb");
	check_refused(__LINE__, HEAD "clients:\n" BOB_BLOCK, &x, -EINVAL,
	              "preshared_key_file: a control character in the path");
}

/* Where in can be indexed, the index's remove gives what the full one does. */
static void check_index_remove(int line, const char *in, const char *name, int want_ret,
                               const char *want)
{
	struct onboard_index *ix = NULL, *next = NULL;
	char err[256] = "", *out = NULL;
	size_t len = 0;
	int ret;

	if (onboard_index_new(in, strlen(in), NULL, &ix, err, sizeof(err)) < 0)
		return;
	indexed++;
	ret = onboard_index_remove(ix, name, &out, &len, &next, err, sizeof(err));
	if (ret != want_ret || (!ret && strcmp(out, want)) ||
	    (ret && (!strstr(err, want) || out))) {
		fprintf(stderr,
		        "line %d: the index's remove gave %d (%s):\n%s\n---- want %d:\n%s\n", line,
		        ret, err, out ? out : "", want_ret, want);
		check_failed++;
	} else {
		check_passed++;
	}
	free(out);
	onboard_index_free(next);
	onboard_index_free(ix);
}

static void check_remove(int line, const char *in, const char *name, int want_ret, const char *want,
                         size_t clients)
{
	char err[256] = "", *out = NULL;
	size_t len = 0;
	int ret = onboard_yaml_remove_client(in, strlen(in), name, &out, &len, err, sizeof(err));

	if (ret != want_ret || (want_ret == 0 && strcmp(out, want)) ||
	    (want_ret && (!strstr(err, want) || out))) {
		fprintf(stderr, "line %d: remove gave %d (%s):\n%s\n---- want %d:\n%s\n", line, ret,
		        err, out ? out : "", want_ret, want);
		check_failed++;
	} else {
		check_passed++;
	}
	if (ret == 0)
		check_parses(out, len, clients, NULL);
	free(out);
	check_index_remove(line, in, name, want_ret, want);
}

static void test_remove(void)
{
	static const char list[] = HEAD "clients:\n" ALICE_BLOCK BOB_BLOCK
	                                "  # carol, since May\n" CAROL_BLOCK "    # her psk later\n"
	                                "\n# the policy\npolicy_file: p.yaml\n";

	/* The comment at the '-''s column above goes, the deeper one after
	 * goes; the blank line and what follows stay. */
	check_remove(
	        __LINE__, list, "carol", 0,
	        HEAD "clients:\n" ALICE_BLOCK BOB_BLOCK "\n# the policy\npolicy_file: p.yaml\n", 2);
	check_remove(__LINE__, list, "alice", 0,
	             HEAD "clients:\n" BOB_BLOCK "  # carol, since May\n" CAROL_BLOCK
	                  "    # her psk later\n\n# the policy\npolicy_file: p.yaml\n",
	             2);
	/* bob's comment on his own line goes with him; alice's inner one
	 * stays with her. */
	check_remove(__LINE__, list, "bob", 0,
	             HEAD "clients:\n" ALICE_BLOCK "  # carol, since May\n" CAROL_BLOCK
	                  "    # her psk later\n\n# the policy\npolicy_file: p.yaml\n",
	             2);
	/* The last one: "clients:" stays, with no value. */
	check_remove(__LINE__, HEAD "clients:\n" BOB_BLOCK "mtu: 1400\n", "bob", 0,
	             HEAD "clients:\nmtu: 1400\n", 0);
	check_remove(__LINE__,
	             HEAD "clients:\n- name: bob\n  public_key: \"" K2 "\"\n  address: 100.64.0.3",
	             "bob", 0, HEAD "clients:\n", 0);
	/* A blank line above keeps a comment; one at another column stays too. */
	check_remove(__LINE__, HEAD "clients:\n# the list\n\n  # bob\n" BOB_BLOCK, "bob", 0,
	             HEAD "clients:\n# the list\n\n", 0);
	check_remove(__LINE__, HEAD "clients:\n# the list\n" BOB_BLOCK, "bob", 0,
	             HEAD "clients:\n# the list\n", 0);
	/* The '-' on a line of its own. */
	check_remove(__LINE__,
	             HEAD "clients:\n" ALICE_BLOCK "  -\n    name: bob\n    public_key: " K2
	                  "\n    address: 100.64.0.3\nmtu: 1400\n",
	             "bob", 0, HEAD "clients:\n" ALICE_BLOCK "mtu: 1400\n", 1);
	check_remove(__LINE__, list, "dave", -ENOENT, "no client named dave", 0);
	check_remove(__LINE__, HEAD "clients: []\n", "bob", -ENOENT, "no client named bob", 0);
	check_remove(__LINE__,
	             HEAD "clients: [{name: bob, public_key: \"" K2 "\", address: 100.64.0.3}]\n",
	             "bob", -EINVAL, "a flow-style clients list ([...]) is not edited", 0);
	check_remove(__LINE__, HEAD "clients:\n" BOB_BLOCK "  - name: x\n", "bob", -EINVAL,
	             "gateway.yaml:8:5: missing required key \"public_key\"", 0);
}

/* ---- addresses */

static struct gw_config *cfg_new(const char *addr, const char *addr6, size_t n)
{
	struct gw_config *g = calloc(1, sizeof(*g));

	g->addr = check_prefix(addr);
	if (addr6) {
		g->has_addr6 = true;
		g->addr6 = check_prefix(addr6);
	}
	g->mark_id_mask = 0xffff;
	g->clients = calloc(n ? n : 1, sizeof(*g->clients));
	return g;
}

static void cfg_client(struct gw_config *g, const char *addr, const char *addr6)
{
	struct gw_client *c = &g->clients[g->n_clients++];

	c->addr = check_prefix(addr);
	c->id = ntohl(c->addr.v4.s_addr) & ~(~0u << (32 - g->addr.len));
	if (addr6) {
		c->has_addr6 = true;
		c->addr6 = check_prefix(addr6);
	}
}

static void check_next(int line, const struct gw_config *g, int want_ret, const char *want,
                       const char *want6)
{
	struct prefix a, a6;
	char s[PREFIX_STRLEN] = "", s6[PREFIX_STRLEN] = "";
	bool has6 = false;
	int ret = onboard_next_address(g, &a, &has6, &a6);

	if (ret == 0)
		prefix_format_addr(&a, s, sizeof(s));
	if (ret == 0 && has6)
		prefix_format_addr(&a6, s6, sizeof(s6));
	if (ret != want_ret || (ret == 0 && (strcmp(s, want) || strcmp(s6, want6 ? want6 : "")))) {
		fprintf(stderr, "line %d: next address %d %s %s, want %d %s %s\n", line, ret, s, s6,
		        want_ret, want, want6 ? want6 : "");
		check_failed++;
	} else {
		check_passed++;
	}
}

static void test_next_address(void)
{
	struct gw_config *g = cfg_new("100.64.0.1/24", NULL, 8);
	struct prefix a6;
	clock_t t0;
	size_t i;

	check_next(__LINE__, g, 0, "100.64.0.2", NULL);
	cfg_client(g, "100.64.0.2", NULL);
	cfg_client(g, "100.64.0.5", NULL);
	cfg_client(g, "100.64.0.3", NULL);
	check_next(__LINE__, g, 0, "100.64.0.4", NULL);
	gw_config_free(g);

	/* The gateway need not be .1; never the network or the broadcast. */
	g = cfg_new("100.64.0.254/24", NULL, 0);
	check_next(__LINE__, g, 0, "100.64.0.1", NULL);
	gw_config_free(g);
	g = cfg_new("100.64.0.6/29", NULL, 8);
	for (i = 1; i <= 5; i++) {
		char a[32];

		snprintf(a, sizeof(a), "100.64.0.%zu", i);
		cfg_client(g, a, NULL);
	}
	check_next(__LINE__, g, -ENOSPC, NULL, NULL);
	g->n_clients = 4; /* .5 free again: the highest host */
	check_next(__LINE__, g, 0, "100.64.0.5", NULL);
	gw_config_free(g);

	/* Ids must fit mark_id_mask: 1..3 here. */
	g = cfg_new("100.64.0.1/24", NULL, 4);
	g->mark_id_mask = 0x3;
	cfg_client(g, "100.64.0.2", NULL);
	check_next(__LINE__, g, 0, "100.64.0.3", NULL);
	cfg_client(g, "100.64.0.3", NULL);
	check_next(__LINE__, g, -ENOSPC, NULL, NULL);
	gw_config_free(g);

	/* IPv6 pairs: the same host id; an address6 written unpaired takes
	 * its id's pair too, as does the gateway's own. */
	g = cfg_new("100.64.0.1/24", "fd00:64::1/64", 4);
	check_next(__LINE__, g, 0, "100.64.0.2", "fd00:64::2");
	cfg_client(g, "100.64.0.2", "fd00:64::3");
	check_next(__LINE__, g, 0, "100.64.0.4", "fd00:64::4");
	g->addr6 = check_prefix("fd00:64::4/64");
	check_next(__LINE__, g, 0, "100.64.0.5", "fd00:64::5");
	g->addr6 = check_prefix("fd00:64::1:0:1/64"); /* host bits above 32: no pair */
	check_next(__LINE__, g, 0, "100.64.0.4", "fd00:64::4");
	/* A /126 holds ids 1..3 (0 is the network). */
	g->addr6 = check_prefix("fd00:64::1/126");
	check_next(__LINE__, g, -ENOSPC, NULL, NULL);
	CHECK_INT(onboard_address6_of(g, &g->clients[0].addr, &a6), 0);
	g->clients[0].addr = check_prefix("100.64.0.4");
	CHECK_INT(onboard_address6_of(g, &g->clients[0].addr, &a6), -ERANGE);
	g->has_addr6 = false;
	CHECK_INT(onboard_address6_of(g, &g->clients[0].addr, &a6), -ENODATA);
	gw_config_free(g);

	/* 60,000 clients in a /16, the only gap at the top: linear, not a
	 * scan of the list per candidate. */
	g = cfg_new("100.64.0.1/16", "fd00:64::1/64", 60000);
	for (i = 0; i < 60000; i++) {
		char a[32], a6s[48];
		uint32_t id = (uint32_t)(i < 30000 ? i + 2 : 90001 - i); /* out of order */

		snprintf(a, sizeof(a), "100.64.%u.%u", id >> 8, id & 255);
		snprintf(a6s, sizeof(a6s), "fd00:64::%x", id);
		cfg_client(g, a, a6s);
	}
	t0 = clock();
	for (i = 0; i < 10; i++)
		check_next(__LINE__, g, 0, "100.64.234.98", "fd00:64::ea62");
	CHECK((double)(clock() - t0) / CLOCKS_PER_SEC < 1.0);
	gw_config_free(g);
}

/* ---- what the edge gets */

static struct onboard_edge edge(bool v6, bool psk)
{
	struct onboard_edge e = {.name = "carol", .endpoint = "[2001:db8::1]:51820", .mtu = 1400};

	memset(e.priv, 0x22, sizeof(e.priv));
	memset(e.gw_pub, 0x01, sizeof(e.gw_pub));
	e.has_psk = psk;
	memset(e.psk, 0x33, sizeof(e.psk));
	e.addr = check_prefix("100.64.0.9/32");
	e.has_addr6 = v6;
	e.addr6 = check_prefix("fd00:64::9/128");
	return e;
}

static void test_wg_quick(void)
{
	struct onboard_edge e = edge(true, true);
	char buf[ONBOARD_TEXT_MAX];

	CHECK_INT(onboard_wg_quick_conf(&e, buf, sizeof(buf)), (int)strlen(buf));
	CHECK_STR(buf, "[Interface]\n"
	               "PrivateKey = IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiI=\n"
	               "Address = 100.64.0.9/32, fd00:64::9/128\n"
	               "MTU = 1400\n"
	               "\n"
	               "[Peer]\n"
	               "PublicKey = " K1 "\n"
	               "PresharedKey = MzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzM=\n"
	               "Endpoint = [2001:db8::1]:51820\n"
	               "AllowedIPs = 0.0.0.0/0, ::/0\n"
	               "PersistentKeepalive = 25\n");
	e = edge(false, false);
	e.endpoint = "gw.example.net:4500";
	CHECK(onboard_wg_quick_conf(&e, buf, sizeof(buf)) > 0);
	CHECK_STR(buf, "[Interface]\n"
	               "PrivateKey = IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiI=\n"
	               "Address = 100.64.0.9/32\n"
	               "MTU = 1400\n"
	               "\n"
	               "[Peer]\n"
	               "PublicKey = " K1 "\n"
	               "Endpoint = gw.example.net:4500\n"
	               "AllowedIPs = 0.0.0.0/0\n"
	               "PersistentKeepalive = 25\n");
	CHECK_INT(onboard_wg_quick_conf(&e, buf, 100), -ENOSPC);
	CHECK_INT(onboard_wg_quick_conf(&e, buf, 0), -ENOSPC);
}

static void test_edge_yaml(void)
{
	struct onboard_edge e = edge(true, true);
	struct edge_config *ec = NULL;
	char buf[ONBOARD_TEXT_MAX], err[256] = "", a[PREFIX_STRLEN];
	int n;

	n = onboard_edge_yaml(&e, "edge.key", "carol.psk", buf, sizeof(buf));
	CHECK_INT(n, (int)strlen(buf));
	CHECK_STR(buf, "# edged's configuration as client carol (made by gatewayctl client add)\n"
	               "private_key_file: edge.key\n"
	               "address: 100.64.0.9/32\n"
	               "address6: fd00:64::9/128\n"
	               "mtu: 1400\n"
	               "gateway:\n"
	               "  endpoint: \"[2001:db8::1]:51820\"\n"
	               "  public_key: \"" K1 "\"\n"
	               "  preshared_key_file: carol.psk\n"
	               "persistent_keepalive: 25\n"
	               "route_all: true\n");
	/* edged reads it as meant, key files and all. */
	CHECK_INT(edge_config_parse("edge.yaml", buf, (size_t)n, &ec, err, sizeof(err)), 0);
	CHECK_STR(err, "");
	if (ec) {
		CHECK_MEM(ec->priv, e.priv, 32);
		CHECK_MEM(ec->gws[0].pub, e.gw_pub, 32);
		CHECK(ec->gws[0].has_psk);
		CHECK_MEM(ec->gws[0].psk, e.psk, 32);
		CHECK_STR(prefix_format(&ec->addr, a, sizeof(a)), "100.64.0.9/32");
		CHECK_STR(prefix_format(&ec->addr6, a, sizeof(a)), "fd00:64::9/128");
		CHECK_INT(ec->mtu, 1400);
		CHECK_INT(ec->persistent_keepalive, 25);
		CHECK_INT(ec->gws[0].endpoint.ss_family, AF_INET6);
	}
	edge_config_free(ec);
	e = edge(false, false);
	e.endpoint = "198.51.100.1:51820";
	n = onboard_edge_yaml(&e, "keys/edge 1.key", NULL, buf, sizeof(buf));
	CHECK(n > 0);
	CHECK(strstr(buf, "private_key_file: \"keys/edge 1.key\"\n") != NULL);
	CHECK(strstr(buf, "preshared") == NULL);
	CHECK(strstr(buf, "address6") == NULL);
	CHECK_INT(onboard_edge_yaml(&e, "a\tb", NULL, buf, sizeof(buf)), -EINVAL);
	CHECK_INT(onboard_edge_yaml(&e, "edge.key", NULL, buf, 64), -ENOSPC);
}

/* The endpoint key and its syntax, shared with what edged reads. */
static void test_endpoint(void)
{
	static const char v6[] = HEAD "endpoint: \"[2001:db8::1]:51820\"\n";
	static const char bad[] = HEAD "endpoint: 198.51.100.1\n";
	struct gw_config *g = NULL;
	char err[256] = "";

	CHECK(gw_endpoint_problem("198.51.100.1:51820") == NULL);
	CHECK(gw_endpoint_problem("[2001:db8::1]:51820") == NULL);
	CHECK(gw_endpoint_problem("gw.example.net:1") == NULL);
	CHECK_STR(gw_endpoint_problem("2001:db8::1:51820"),
	          "is not HOST:PORT (an IPv6 address needs brackets: [2001:db8::1]:51820)");
	CHECK_STR(gw_endpoint_problem("198.51.100.1"),
	          "is not HOST:PORT (like 198.51.100.1:51820 or [2001:db8::1]:51820)");
	CHECK_STR(gw_endpoint_problem("198.51.100.1:0"), "has no valid port (1-65535)");
	CHECK_STR(gw_endpoint_problem("198.51.100.1:65536"), "has no valid port (1-65535)");
	CHECK_STR(gw_endpoint_problem("[198.51.100.1]:1"), "is not an IPv6 address in brackets");
	CHECK_STR(gw_endpoint_problem("198.51.100.300:1"), "is not an IPv4 address or host name");
	CHECK_STR(gw_endpoint_problem("a b:1"), "is not an IPv4 address or host name");

	CHECK_INT(gw_config_parse("g.yaml", v6, strlen(v6), &g, err, sizeof(err)), 0);
	CHECK_STR(g ? g->endpoint : NULL, "[2001:db8::1]:51820");
	gw_config_free(g);
	CHECK_INT(gw_config_parse("g.yaml", HEAD, strlen(HEAD), &g, err, sizeof(err)), 0);
	CHECK_STR(g ? g->endpoint : NULL, "");
	gw_config_free(g);
	CHECK_INT(gw_config_parse("g.yaml", bad, strlen(bad), &g, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "g.yaml:4:11: endpoint: \"198.51.100.1\" is not HOST:PORT (like "
	               "198.51.100.1:51820 or [2001:db8::1]:51820)");
}

/* Without key files: what the edits check against. */
static void test_no_key_files(void)
{
	static const char yaml[] = "private_key_file: none.key\naddress: 100.64.0.1/24\n"
	                           "clients:\n  - {name: a, public_key: \"" K1 "\", address: "
	                           "100.64.0.2, preshared_key_file: none.psk}\n";
	struct gw_config *g = NULL;
	char err[256] = "";

	CHECK_INT(gw_config_parse("g.yaml", yaml, strlen(yaml), &g, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "cannot read \"none.key\"") != NULL);
	CHECK_INT(gw_config_parse_flags("g.yaml", NULL, yaml, strlen(yaml), GW_CONFIG_NO_KEY_FILES,
	                                &g, err, sizeof(err)),
	          0);
	CHECK(g && g->n_clients == 1 && g->clients[0].has_psk);
	gw_config_free(g);
}

/* Texts the index leaves to the full edit, each with why. */
static void test_index_refused(void)
{
	static const struct {
		const char *text, *why;
	} cases[] = {
	        {HEAD "clients: []\n", "not a block list"},
	        {HEAD "clients:\n", "not a block list"},
	        {HEAD, "not a block list"},
	        {HEAD "clients: [{name: bob, public_key: \"" K2 "\", address: 100.64.0.3}]\n",
	         "not a block list"},
	        {HEAD "clients:\n" BOB_BLOCK "mtu: 1400", "not a block list"},
	        {HEAD "clients:\n" BOB_BLOCK "# a\ttab\n", "a tab"},
	        {HEAD "mtu: 99\nclients:\n" BOB_BLOCK, "is not a number"},
	};
	struct onboard_index *ix = NULL;
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		CHECK_INT(onboard_index_new(cases[i].text, strlen(cases[i].text), NULL, &ix, err,
		                            sizeof(err)),
		          -EINVAL);
		CHECK(ix == NULL);
		if (!strstr(err, cases[i].why)) {
			fprintf(stderr, "case %zu: \"%s\", want \"%s\"\n", i, err, cases[i].why);
			check_failed++;
		}
	}
	/* and one it takes, whose text and parse it keeps */
	CHECK_INT(onboard_index_new(HEAD "clients:\n" BOB_BLOCK,
	                            strlen(HEAD "clients:\n" BOB_BLOCK), NULL, &ix, err,
	                            sizeof(err)),
	          0);
	if (ix) {
		CHECK(onboard_index_is(ix, HEAD "clients:\n" BOB_BLOCK,
		                       strlen(HEAD "clients:\n" BOB_BLOCK)));
		CHECK(!onboard_index_is(ix, HEAD "clients:\n" BOB_BLOCK "\n",
		                        strlen(HEAD "clients:\n" BOB_BLOCK "\n")));
		CHECK_INT(onboard_index_config(ix)->n_clients, 1);
		onboard_index_free(ix);
	}
}

int main(void)
{
	if (!mkdtemp(dir) || chdir(dir) < 0) {
		perror(dir);
		return 1;
	}
	write_file("gw.key", KG "\n", 0600);
	write_file("edge.key", "IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiI=\n", 0600);
	write_file("carol.psk", "MzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzM=\n", 0600);
	if (mkdir("keys", 0700) == 0)
		write_file("keys/carol's.psk", "MzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzM=\n",
		           0600);

	test_add_styles();
	test_add_v6_psk();
	test_add_refused();
	test_remove();
	test_next_address();
	test_wg_quick();
	test_edge_yaml();
	test_endpoint();
	test_no_key_files();
	test_index_refused();
	/* the index took the add and remove cases it can take */
	CHECK(indexed >= 20);

	unlink("keys/carol's.psk");
	rmdir("keys");
	unlink("gw.key");
	unlink("edge.key");
	unlink("carol.psk");
	if (chdir("/") == 0)
		rmdir(dir);
	return check_done("test_onboard");
}

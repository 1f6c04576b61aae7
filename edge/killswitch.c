/* The kill switch: see killswitch.h. */
#include "edge/killswitch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <limits.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tunnel/file.h"
#include "tunnel/log.h"
#include "tunnel/nl.h"
#include "tunnel/prefix.h"

#define STATE_FILE "killswitch"

struct ks_params ks_params_of(const struct edge_config *cfg)
{
	return (struct ks_params){
	        .ifname = cfg->ifname,
	        .fwmark = cfg->fwmark,
	        .gateways = cfg->gws,
	        .n_gateways = cfg->n_gws,
	        .allow = cfg->allow,
	        .n_allow = cfg->n_allow,
	        .dns = cfg->dns,
	        .n_dns = cfg->n_dns,
	};
}

static bool ifname_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return false;
	return i > 0 && i < 16;
}

/* "ip daddr 198.51.100.1 udp dport 51820" for a gateway endpoint. */
static int put_gateway(FILE *f, const struct sockaddr_storage *ss)
{
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		fprintf(f, "ip daddr %s udp dport %u", a, ntohs(sin->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		fprintf(f, "ip6 daddr %s udp dport %u", a, ntohs(sin6->sin6_port));
	} else {
		return -EINVAL;
	}
	return 0;
}

/* An allow entry: any protocol to the prefix, or TCP and UDP to its port. */
static void put_allow(FILE *f, const struct edge_allow *a)
{
	char p[PREFIX_STRLEN];
	const char *fam = a->dst.family == AF_INET ? "ip" : "ip6";

	prefix_format(&a->dst, p, sizeof(p));
	if (a->port)
		fprintf(f, "\t\t%s daddr %s meta l4proto { tcp, udp } th dport %u accept\n", fam, p,
		        a->port);
	else
		fprintf(f, "\t\t%s daddr %s accept\n", fam, p);
}

/* What both chains end with: DNS only through the tunnel, the allow
 * entries, then the drop, counted. */
static void put_tail(FILE *f, const struct ks_params *p, const char *counter)
{
	fprintf(f, "\t\t# DNS goes through the tunnel or nowhere.\n");
	fprintf(f, "\t\tmeta l4proto { tcp, udp } th dport { 53, 853 } counter name "
	           "\"dns_blocked\" drop\n");
	if (p->n_allow)
		fprintf(f, "\t\t# allow: in edge.yaml\n");
	for (size_t i = 0; i < p->n_allow; i++)
		put_allow(f, &p->allow[i]);
	if (p->n_lan)
		fprintf(f, "\t\t# allow_lan: the private subnets on link at the start\n");
	for (size_t i = 0; i < p->n_lan; i++)
		put_allow(f, &(struct edge_allow){.dst = p->lan[i]});
	fprintf(f, "\t\tcounter name \"%s\" drop\n", counter);
}

/* The tunnel, and with dns, DNS through it only to those resolvers. */
static void put_tunnel(FILE *f, const struct ks_params *p)
{
	char a[PREFIX_STRLEN];

	if (p->n_dns) {
		fprintf(f, "\t\t# DNS through the tunnel: only to the resolvers of edge.yaml.\n");
		for (size_t i = 0; i < p->n_dns; i++)
			fprintf(f,
			        "\t\toifname \"%s\" %s daddr %s meta l4proto { tcp, udp } th dport "
			        "{ 53, 853 } accept\n",
			        p->ifname, p->dns[i].family == AF_INET ? "ip" : "ip6",
			        prefix_format_addr(&p->dns[i], a, sizeof(a)));
		fprintf(f,
		        "\t\toifname \"%s\" meta l4proto { tcp, udp } th dport { 53, 853 } "
		        "counter name \"dns_blocked\" drop\n",
		        p->ifname);
	}
	fprintf(f, "\t\toifname \"%s\" accept\n", p->ifname);
}

int ks_render(const struct ks_params *p, char **text)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int ret = 0;

	*text = NULL;
	if (!p->ifname || !ifname_ok(p->ifname) || !p->fwmark || (p->n_gateways && !p->gateways))
		return -EINVAL;
	f = open_memstream(&buf, &len);
	if (!f)
		return -ENOMEM;
	/* In place of any table of that name, in the same transaction. */
	fprintf(f, "table inet " KS_TABLE " {}\ndelete table inet " KS_TABLE "\n");
	fprintf(f, "table inet " KS_TABLE " {\n");
	fprintf(f, "\tcounter blocked_out {}\n\tcounter blocked_forward {}\n"
	           "\tcounter dns_blocked {}\n\n");
	fprintf(f, "\tchain output {\n");
	fprintf(f, "\t\ttype filter hook output priority filter; policy accept;\n");
	fprintf(f, "\t\toifname \"lo\" accept\n");
	put_tunnel(f, p);
	fprintf(f, "\t\t# The tunnel itself, from the socket with edged's fwmark.\n");
	for (size_t i = 0; i < p->n_gateways && !ret; i++) {
		fprintf(f, "\t\tmeta mark 0x%08" PRIx32 " ", p->fwmark);
		ret = put_gateway(f, &p->gateways[i].endpoint);
		fprintf(f, " accept\n");
	}
	fprintf(f, "\t\t# Neighbour discovery and router solicitation (hop limit 255:\n");
	fprintf(f, "\t\t# never routed), DHCP and DHCPv6.\n");
	fprintf(f, "\t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, "
	           "nd-router-solicit } ip6 hoplimit 255 accept\n");
	fprintf(f, "\t\tudp sport 68 udp dport 67 accept\n");
	fprintf(f, "\t\tip6 daddr ff02::1:2 udp sport 546 udp dport 547 accept\n");
	put_tail(f, p, "blocked_out");
	fprintf(f, "\t}\n\n");
	/* Containers and VMs behind this host: only into the tunnel. */
	fprintf(f, "\tchain forward {\n");
	fprintf(f, "\t\ttype filter hook forward priority filter; policy accept;\n");
	put_tunnel(f, p);
	put_tail(f, p, "blocked_forward");
	fprintf(f, "\t}\n}\n");
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	if (ret < 0) {
		free(buf);
		return ret;
	}
	*text = buf;
	return 0;
}

bool ks_private(const struct prefix *p)
{
	static const char *const ranges[] = {"10.0.0.0/8",     "172.16.0.0/12", "192.168.0.0/16",
	                                     "169.254.0.0/16", "fc00::/7",      "fe80::/10"};

	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		struct prefix r;

		if (prefix_parse(&r, ranges[i], AF_UNSPEC) == 0 && r.family == p->family &&
		    prefix_contains(&r, p))
			return true;
	}
	return false;
}

struct lan {
	unsigned skip, lo;
	struct prefix *out, refused[32];
	size_t max, n, n_refused;
};

static bool listed(const struct prefix *v, size_t n, const struct prefix *p)
{
	for (size_t i = 0; i < n; i++)
		if (!prefix_cmp(&v[i], p))
			return true;
	return false;
}

static int lan_addr(const struct nl_addr *a, void *arg)
{
	struct lan *l = arg;
	struct prefix p = a->addr;
	char s[PREFIX_STRLEN];

	if (a->ifindex == l->skip || a->ifindex == l->lo || p.len == prefix_max_len(p.family))
		return 0;
	prefix_mask(&p);
	if (!ks_private(&p)) {
		if (!listed(l->refused, l->n_refused, &p) &&
		    l->n_refused < sizeof(l->refused) / sizeof(l->refused[0])) {
			l->refused[l->n_refused++] = p;
			log_warnx("allow_lan: %s is on link but not a private range: not let out",
			          prefix_format(&p, s, sizeof(s)));
		}
		return 0;
	}
	if (!listed(l->out, l->n, &p) && l->n < l->max) {
		l->out[l->n++] = p;
		log_info("allow_lan: %s let out", prefix_format(&p, s, sizeof(s)));
	}
	return 0;
}

int ks_lan_prefixes(struct nl *nl, unsigned skip, struct prefix *out, size_t max)
{
	struct lan l = {.skip = skip, .lo = if_nametoindex("lo"), .out = out, .max = max};
	int err = -EINTR;

	for (int tries = 0; tries < 3 && err == -EINTR; tries++) {
		l.n = 0;
		err = nl_addr_dump(nl, AF_UNSPEC, lan_addr, &l);
	}
	return err < 0 ? err : (int)l.n;
}

/* text through a context of its own: 0, or -errno with err. */
static int run(const char *text, char *err, size_t errlen)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	const char *msg;
	int ret = 0;

	if (err && errlen)
		err[0] = '\0';
	if (!ctx || nft_ctx_buffer_output(ctx) || nft_ctx_buffer_error(ctx)) {
		if (ctx)
			nft_ctx_free(ctx);
		return -ENOMEM;
	}
	if (nft_run_cmd_from_buffer(ctx, text) != 0) {
		msg = nft_ctx_get_error_buffer(ctx);
		if (!msg || !msg[0])
			msg = "libnftables failed without a message";
		ret = strstr(msg, "Operation not permitted") ? -EPERM : -EINVAL;
		if (err && errlen) {
			/* its first line: nft says "Error: ..." then the text */
			snprintf(err, errlen, "%.*s", (int)strcspn(msg, "\n"), msg);
		}
	}
	nft_ctx_free(ctx);
	return ret;
}

int ks_apply(const char *text, char *err, size_t errlen)
{
	return run(text, err, errlen);
}

int ks_remove(char *err, size_t errlen)
{
	return run("table inet " KS_TABLE " {}\ndelete table inet " KS_TABLE "\n", err, errlen);
}

int ks_present(void)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	int ret;

	if (!ctx || nft_ctx_buffer_output(ctx) || nft_ctx_buffer_error(ctx)) {
		if (ctx)
			nft_ctx_free(ctx);
		return -ENOMEM;
	}
	ret = nft_run_cmd_from_buffer(ctx, "list table inet " KS_TABLE) == 0;
	nft_ctx_free(ctx);
	return ret;
}

/* ---- the state file */

static void state_path(char *buf, size_t size, const char *dir)
{
	snprintf(buf, size, "%s/" STATE_FILE, dir);
}

int ks_state_write(const char *dir, const struct ks_state *s)
{
	char path[PATH_MAX + 16], tmp[PATH_MAX + 64], text[128];
	int n, ret;

	ret = file_make_dirs(dir, 0700);
	if (ret < 0)
		return ret;
	state_path(path, sizeof(path), dir);
	n = snprintf(text, sizeof(text), "egress-edge killswitch\npid %ld\nsrc_valid_mark %s\n",
	             (long)s->pid, s->src_valid_mark[0] ? s->src_valid_mark : "-");
	if (n < 0 || (size_t)n >= sizeof(text))
		return -EINVAL;
	ret = file_write_temp(path, text, (size_t)n, 0600, tmp, sizeof(tmp));
	if (ret < 0)
		return ret;
	if (rename(tmp, path) < 0) {
		ret = -errno;
		unlink(tmp);
	}
	return ret;
}

int ks_state_parse(const char *buf, size_t len, struct ks_state *s)
{
	char text[256], *line, *save = NULL;
	int seen = 0;

	memset(s, 0, sizeof(*s));
	if (len >= sizeof(text) || memchr(buf, '\0', len))
		return -EINVAL;
	memcpy(text, buf, len);
	text[len] = '\0';
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *end;

		if (!strcmp(line, "egress-edge killswitch")) {
			seen |= 1;
		} else if (!strncmp(line, "pid ", 4)) {
			long pid = strtol(line + 4, &end, 10);

			if (*end || end == line + 4 || pid <= 0 || pid > INT_MAX)
				return -EINVAL;
			s->pid = (pid_t)pid;
			seen |= 2;
		} else if (!strncmp(line, "src_valid_mark ", 15)) {
			const char *v = line + 15;

			if (strcmp(v, "-") && (strlen(v) != 1 || (v[0] != '0' && v[0] != '1')))
				return -EINVAL;
			snprintf(s->src_valid_mark, sizeof(s->src_valid_mark), "%s",
			         strcmp(v, "-") ? v : "");
			seen |= 4;
		} else {
			return -EINVAL;
		}
	}
	return seen == 7 ? 0 : -EINVAL;
}

int ks_state_read(const char *dir, struct ks_state *s)
{
	char path[PATH_MAX + 16], buf[256];
	ssize_t n;
	int fd;

	memset(s, 0, sizeof(*s));
	state_path(path, sizeof(path), dir);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		return -errno;
	return ks_state_parse(buf, (size_t)n, s);
}

int ks_state_remove(const char *dir)
{
	char path[PATH_MAX + 16];

	state_path(path, sizeof(path), dir);
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

bool ks_state_owner_running(const struct ks_state *s)
{
	char path[64], comm[32] = "";
	ssize_t n;
	int fd;

	if (s->pid <= 0 || s->pid == getpid() || (kill(s->pid, 0) < 0 && errno == ESRCH))
		return false;
	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)s->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, comm, sizeof(comm) - 1);
	close(fd);
	if (n <= 0)
		return false;
	comm[n] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
	return !strcmp(comm, "edged");
}

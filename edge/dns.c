/* DNS while edged runs: see dns.h. */
#include "edge/dns.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "edge/config.h"
#include "edge/killswitch.h"
#include "tunnel/file.h"
#include "tunnel/log.h"

#define RESOLVED_DIR  "/run/systemd/resolve/"
#define SAVED_MAGIC   "egress-edge resolv.conf\n"
#define RESOLV_MAX    (1u << 20) /* a resolv.conf larger than this is not one */
#define RESOLVECTL_MS 5000

extern char **environ;

bool dns_is_resolved_path(const char *real)
{
	return !strncmp(real, RESOLVED_DIR, strlen(RESOLVED_DIR)) &&
	       real[strlen(RESOLVED_DIR)] != '\0';
}

/* Whether this process shares PID 1's network namespace. */
static bool init_netns(void)
{
	struct stat self, init;

	return stat("/proc/self/ns/net", &self) == 0 && stat("/proc/1/ns/net", &init) == 0 &&
	       self.st_dev == init.st_dev && self.st_ino == init.st_ino;
}

int dns_render(const struct dns_params *p, char **text)
{
	char *buf = NULL, a[PREFIX_STRLEN];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	*text = NULL;
	if (!f)
		return -ENOMEM;
	fprintf(f,
	        "# Written by edged (egress) while its tunnel %s is up; the original\n"
	        "# comes back when it stops.\n",
	        p->ifname);
	for (size_t i = 0; i < p->n_dns; i++)
		fprintf(f, "nameserver %s\n", prefix_format_addr(&p->dns[i], a, sizeof(a)));
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*text = buf;
	return 0;
}

int dns_saved_parse(const char *buf, size_t len, struct dns_saved *s)
{
	const char *p = buf, *end = buf + len, *nl;
	char num[16], *e;
	long pid;
	size_t n;

	memset(s, 0, sizeof(*s));
	n = strlen(SAVED_MAGIC);
	if (len < n || memcmp(p, SAVED_MAGIC, n))
		return -EINVAL;
	p += n;
	/* "pid N\n" */
	nl = memchr(p, '\n', (size_t)(end - p));
	if (!nl || nl - p < 5 || memcmp(p, "pid ", 4) || (size_t)(nl - p - 4) >= sizeof(num))
		return -EINVAL;
	memcpy(num, p + 4, (size_t)(nl - p - 4));
	num[nl - p - 4] = '\0';
	if (num[0] < '1' || num[0] > '9')
		return -EINVAL;
	errno = 0;
	pid = strtol(num, &e, 10);
	if (*e || errno || pid > INT_MAX)
		return -EINVAL;
	s->pid = (pid_t)pid;
	p = nl + 1;
	/* "path P\n", P absolute, no NUL */
	nl = memchr(p, '\n', (size_t)(end - p));
	if (!nl || nl - p < 6 || memcmp(p, "path /", 6) ||
	    (size_t)(nl - p - 5) >= sizeof(s->path) || memchr(p, '\0', (size_t)(nl - p)))
		return -EINVAL;
	memcpy(s->path, p + 5, (size_t)(nl - p - 5));
	s->path[nl - p - 5] = '\0';
	p = nl + 1;
	if (p == end || *p != '\n')
		return -EINVAL;
	s->body = p + 1;
	s->body_len = (size_t)(end - p - 1);
	return 0;
}

static void saved_path(char *buf, size_t size, const char *state_dir)
{
	snprintf(buf, size, "%s/" DNS_SAVED_FILE, state_dir);
}

/* buf over the file at path, in place: the same inode, mode and owner.
 * 0 or -errno. */
static int write_in_place(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = file_write_all(fd, buf, len);
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	return ret;
}

/* p's resolv.conf over the file at real, in place: 0 or -1 (said). */
static int write_rendered(const struct dns_params *p, const char *real)
{
	char *text = NULL;
	int e = dns_render(p, &text);

	if (e == 0)
		e = write_in_place(real, text, strlen(text));
	free(text);
	if (e < 0) {
		errno = -e;
		log_err("cannot write resolv_conf %s", real);
		return -1;
	}
	return 0;
}

/* resolvectl ARG..., waited for: 0, or -1 (said). */
static int resolvectl(const char *const *argv)
{
	posix_spawnattr_t attr;
	sigset_t none;
	pid_t pid, w;
	int e, status, waited_ms = 0;

	/* edged blocks the signals its loop takes: the child must not */
	sigemptyset(&none);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	e = posix_spawnp(&pid, "resolvectl", NULL, &attr, (char *const *)argv, environ);
	posix_spawnattr_destroy(&attr);
	if (e) {
		errno = e;
		log_err("cannot run resolvectl");
		return -1;
	}
	/* the loop waits for it: not past RESOLVECTL_MS */
	while ((w = waitpid(pid, &status, WNOHANG)) == 0 || (w < 0 && errno == EINTR)) {
		if (waited_ms >= RESOLVECTL_MS) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			log_errx("resolvectl %s %s gave no answer in %d ms: killed", argv[1],
			         argv[2], RESOLVECTL_MS);
			return -1;
		}
		usleep(10000);
		waited_ms += 10;
	}
	if (w < 0) {
		log_err("resolvectl");
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		log_errx("resolvectl %s %s failed (status %d)", argv[1], argv[2],
		         WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return -1;
	}
	return 0;
}

static int resolved_dns(const struct dns_params *p)
{
	char addrs[EDGE_DNS_MAX][PREFIX_STRLEN];
	const char *argv[4 + EDGE_DNS_MAX] = {"resolvectl", "dns", p->ifname};
	size_t i;

	for (i = 0; i < p->n_dns && i < EDGE_DNS_MAX; i++)
		argv[3 + i] = prefix_format_addr(&p->dns[i], addrs[i], sizeof(addrs[i]));
	argv[3 + i] = NULL;
	return resolvectl(argv);
}

static int resolved_up(const struct dns_params *p)
{
	if (resolved_dns(p) < 0 ||
	    resolvectl((const char *const[]){"resolvectl", "domain", p->ifname, "~.", NULL}) < 0 ||
	    resolvectl((const char *const[]){"resolvectl", "default-route", p->ifname, "yes",
	                                     NULL}) < 0) {
		resolvectl((const char *const[]){"resolvectl", "revert", p->ifname, NULL});
		return -1;
	}
	log_info("DNS through systemd-resolved: link %s has the resolvers and the domain ~.",
	         p->ifname);
	return 0;
}

/* The saved file's text for the original at real. */
static int saved_text(const char *real, const char *orig, size_t len, char **text, size_t *n)
{
	FILE *f = open_memstream(text, n);

	if (!f)
		return -ENOMEM;
	fprintf(f, SAVED_MAGIC "pid %ld\npath %s\n\n", (long)getpid(), real);
	fwrite(orig, 1, len, f);
	if (fclose(f) != 0) {
		free(*text);
		*text = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* Keeps the original of real in state_dir, atomically: 0 or -errno. */
static int save_original(const char *state_dir, const char *real, const char *orig, size_t len)
{
	char path[PATH_MAX + 16], tmp[PATH_MAX + 64], *text = NULL;
	size_t n = 0;
	int ret;

	ret = file_make_dirs(state_dir, 0700);
	if (ret < 0)
		return ret;
	ret = saved_text(real, orig, len, &text, &n);
	if (ret < 0)
		return ret;
	saved_path(path, sizeof(path), state_dir);
	ret = file_write_temp(path, text, n, 0600, tmp, sizeof(tmp));
	free(text);
	if (ret == 0 && rename(tmp, path) < 0) {
		ret = -errno;
		unlink(tmp);
	}
	return ret;
}

static int file_up(const struct dns_params *p)
{
	char real[PATH_MAX], saved[PATH_MAX + 16], *orig = NULL;
	size_t len;
	int e;

	if (!realpath(p->resolv_conf, real)) {
		log_err("resolv_conf %s", p->resolv_conf);
		return -1;
	}
	e = file_read_all(real, RESOLV_MAX, &orig, &len);
	if (e < 0) {
		errno = -e;
		log_err("cannot read resolv_conf %s", real);
		return -1;
	}
	saved_path(saved, sizeof(saved), p->state_dir);
	e = save_original(p->state_dir, real, orig, len);
	if (e < 0) {
		errno = -e;
		log_err("cannot keep the original of %s in %s", real, saved);
		free(orig);
		return -1;
	}
	if (write_rendered(p, real) < 0) {
		/* what a failed or short write left: the original again */
		if (write_in_place(real, orig, len) == 0)
			unlink(saved);
		free(orig);
		return -1;
	}
	free(orig);
	log_info("DNS: %s names edged's resolvers (the original kept in %s)", real, saved);
	return 0;
}

int dns_up(const struct dns_params *p, enum dns_how *how)
{
	char real[PATH_MAX];

	*how = DNS_NONE;
	/* first: a crashed edged's, even when dns is gone from edge.yaml */
	if (dns_restore_saved(p->state_dir) < 0)
		return -1;
	if (!p->n_dns)
		return 0;
	if (realpath(p->resolv_conf, real) && dns_is_resolved_path(real) && init_netns()) {
		if (resolved_up(p) < 0)
			return -1;
		*how = DNS_RESOLVED;
		return 0;
	}
	if (file_up(p) < 0)
		return -1;
	*how = DNS_FILE;
	return 0;
}

/* The file the saved original in state_dir belongs to, into real: 0 or -1
 * (said). */
static int saved_target(const char *state_dir, char real[PATH_MAX])
{
	char path[PATH_MAX + 16], *buf = NULL;
	struct dns_saved sv;
	size_t len;
	int e;

	saved_path(path, sizeof(path), state_dir);
	e = file_read_all(path, RESOLV_MAX + 8192, &buf, &len);
	if (e < 0) {
		errno = -e;
		log_err("cannot read %s", path);
		return -1;
	}
	e = dns_saved_parse(buf, len, &sv);
	if (e == 0)
		snprintf(real, PATH_MAX, "%s", sv.path);
	else
		log_errx("%s is not edged's saved resolv.conf", path);
	free(buf);
	return e < 0 ? -1 : 0;
}

int dns_change(const struct dns_params *p, const struct dns_params *old, enum dns_how how)
{
	char real[PATH_MAX];

	if (how == DNS_RESOLVED)
		return resolved_dns(p);
	if (how != DNS_FILE)
		return 0;
	/* the file rewritten at the start, whatever its path resolves to now */
	if (saved_target(p->state_dir, real) < 0)
		return -1;
	if (write_rendered(p, real) == 0)
		return 0;
	if (write_rendered(old, real) < 0)
		log_errx("%s may be left incomplete: the original comes back when edged stops",
		         real);
	return -1;
}

/* The original back from the saved file at path, which says where it goes;
 * expect, when given, is what edged wrote there. 0 or -1 (said). */
static int restore(const char *path, const char *expect, bool stale)
{
	struct dns_saved s;
	char *buf = NULL, *now = NULL;
	size_t len, now_len;
	int e;

	e = file_read_all(path, RESOLV_MAX + 8192, &buf, &len);
	if (e == -ENOENT)
		return 0;
	if (e < 0) {
		errno = -e;
		log_err("cannot read %s", path);
		return -1;
	}
	if (dns_saved_parse(buf, len, &s) < 0) {
		log_errx("%s is not edged's saved resolv.conf: left alone; remove it by hand",
		         path);
		free(buf);
		return -1;
	}
	if (stale && ks_state_owner_running(&(struct ks_state){.pid = s.pid})) {
		log_errx("edged (pid %ld) has set the resolvers in %s and still runs", (long)s.pid,
		         s.path);
		free(buf);
		errno = EBUSY;
		return -1;
	}
	if (expect && file_read_all(s.path, RESOLV_MAX, &now, &now_len) == 0 &&
	    (now_len != strlen(expect) || memcmp(now, expect, now_len)))
		log_warnx("%s was changed by another program while edged ran: the original "
		          "replaces that too",
		          s.path);
	free(now);
	e = write_in_place(s.path, s.body, s.body_len);
	if (e < 0) {
		errno = -e;
		log_err("cannot put the original %s back (it stays in %s)", s.path, path);
		free(buf);
		return -1;
	}
	unlink(path);
	log_info("DNS: %s restored%s", s.path,
	         stale ? " (an edged that did not stop cleanly had rewritten it)" : "");
	free(buf);
	return 1;
}

int dns_restore_saved(const char *state_dir)
{
	char path[PATH_MAX + 16];

	saved_path(path, sizeof(path), state_dir);
	return restore(path, NULL, true);
}

void dns_down(const struct dns_params *p, enum dns_how how)
{
	char path[PATH_MAX + 16], *text = NULL;

	if (how == DNS_RESOLVED) {
		if (resolvectl((const char *const[]){"resolvectl", "revert", p->ifname, NULL}) == 0)
			log_info("DNS: systemd-resolved's settings of %s reverted", p->ifname);
		return;
	}
	if (how != DNS_FILE)
		return;
	saved_path(path, sizeof(path), p->state_dir);
	if (dns_render(p, &text) < 0)
		text = NULL;
	restore(path, text, false);
	free(text);
}

/* edge/dns.c: the resolv.conf it writes, the saved original's parser, and
 * the file way end to end on a file of this test's own: rewritten in place
 * (the same inode), the original back byte for byte, a crashed edged's
 * saved copy put back by the next start, and what is refused. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "edge/dns.h"
#include "tunnel/file.h"

static void test_render(void)
{
	struct prefix dns[2] = {check_prefix("100.64.0.1"), check_prefix("fd00:64::1")};
	struct dns_params p = {.ifname = "egress0", .dns = dns, .n_dns = 2};
	char *text = NULL;

	CHECK_INT(dns_render(&p, &text), 0);
	CHECK_STR(text, "# Written by edged (egress) while its tunnel egress0 is up; the original\n"
	                "# comes back when it stops.\n"
	                "nameserver 100.64.0.1\n"
	                "nameserver fd00:64::1\n");
	free(text);
}

static void test_saved_parse(void)
{
	static const char *const bad[] = {
	        "",
	        "egress-edge resolv.conf\n",
	        "egress-edge resolv.conf\npid 0\npath /etc/resolv.conf\n\n",
	        "egress-edge resolv.conf\npid -1\npath /etc/resolv.conf\n\n",
	        "egress-edge resolv.conf\npid 12x\npath /etc/resolv.conf\n\n",
	        "egress-edge resolv.conf\npid 99999999999\npath /etc/resolv.conf\n\n",
	        "egress-edge resolv.conf\npid 12\npath etc/resolv.conf\n\n", /* relative */
	        "egress-edge resolv.conf\npid 12\npath /etc/resolv.conf\n",  /* no blank line */
	        "egress-edge resolv.conf\npid 12\npath /etc/resolv.conf\nx\n",
	        "egress-edge killswitch\npid 12\npath /etc/resolv.conf\n\n",
	};
	static const char good[] = "egress-edge resolv.conf\npid 12\npath /etc/resolv.conf\n\n"
	                           "nameserver 192.0.2.53\n";
	struct dns_saved s;

	CHECK_INT(dns_saved_parse(good, strlen(good), &s), 0);
	CHECK_INT(s.pid, 12);
	CHECK_STR(s.path, "/etc/resolv.conf");
	CHECK_INT(s.body_len, strlen("nameserver 192.0.2.53\n"));
	CHECK(!memcmp(s.body, "nameserver 192.0.2.53\n", s.body_len));
	/* an empty original is one too */
	CHECK_INT(dns_saved_parse(good, strlen(good) - s.body_len, &s), 0);
	CHECK_INT(s.body_len, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_INT(dns_saved_parse(bad[i], strlen(bad[i]), &s), -EINVAL);
	CHECK_INT(dns_saved_parse("egress-edge resolv.conf\npid 1\npath /a\0b\n\n", 41, &s),
	          -EINVAL);
}

static void test_resolved_path(void)
{
	CHECK(dns_is_resolved_path("/run/systemd/resolve/stub-resolv.conf"));
	CHECK(dns_is_resolved_path("/run/systemd/resolve/resolv.conf"));
	CHECK(!dns_is_resolved_path("/run/systemd/resolve/"));
	CHECK(!dns_is_resolved_path("/run/systemd/resolvex/resolv.conf"));
	CHECK(!dns_is_resolved_path("/etc/resolv.conf"));
}

static char *read_text(const char *path, size_t *len)
{
	char *buf = NULL;

	if (file_read_all(path, 1 << 20, &buf, len) < 0)
		return NULL;
	return buf;
}

static void put_text(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK_INT(file_write_all(fd, text, len), 0);
		close(fd);
	}
}

/* The file way, on a file under a temp dir: never a resolved path. */
static void test_file_way(void)
{
	/* with a NUL and no final newline: restored byte for byte all the same */
	static const char orig[] = "# the LAN's\nnameserver 192.0.2.53\nsearch lan\0x";
	struct prefix dns[1] = {check_prefix("100.64.0.1")};
	char dir[] = "/tmp/test_dns.XXXXXX", conf[128], state[128], saved[160], link[128];
	struct dns_params p = {.ifname = "egress0", .dns = dns, .n_dns = 1};
	enum dns_how how = DNS_FILE;
	struct stat before, during;
	char *text, *now;
	size_t len;

	if (!mkdtemp(dir))
		return;
	snprintf(conf, sizeof(conf), "%s/resolv.conf", dir);
	snprintf(link, sizeof(link), "%s/link.conf", dir);
	snprintf(state, sizeof(state), "%s/state/edged", dir);
	snprintf(saved, sizeof(saved), "%s/" DNS_SAVED_FILE, state);
	put_text(conf, orig, sizeof(orig) - 1);
	CHECK_INT(symlink("resolv.conf", link), 0);
	p.resolv_conf = link; /* through a symlink: its target is rewritten */
	p.state_dir = state;
	CHECK_INT(stat(conf, &before), 0);

	/* no dns: nothing at all */
	p.n_dns = 0;
	CHECK_INT(dns_up(&p, &how), 0);
	CHECK_INT(how, DNS_NONE);
	CHECK(access(state, F_OK) < 0);
	p.n_dns = 1;

	CHECK_INT(dns_up(&p, &how), 0);
	CHECK_INT(how, DNS_FILE);
	CHECK_INT(stat(conf, &during), 0);
	CHECK(during.st_ino == before.st_ino); /* in place */
	CHECK_INT(during.st_mode, before.st_mode);
	now = read_text(conf, &len);
	CHECK(dns_render(&p, &text) == 0 && now && !strcmp(now, text));
	free(text);
	free(now);
	CHECK(access(saved, F_OK) == 0);

	/* SIGHUP's new resolvers */
	struct prefix olddns[1] = {dns[0]};
	struct dns_params op = p;

	op.dns = olddns;
	dns[0] = check_prefix("fd00:64::53");
	CHECK_INT(dns_change(&p, &op, how), 0);
	now = read_text(conf, &len);
	CHECK(now && strstr(now, "nameserver fd00:64::53\n"));
	free(now);

	dns_down(&p, how);
	now = read_text(conf, &len);
	CHECK(now && len == sizeof(orig) - 1 && !memcmp(now, orig, len));
	free(now);
	CHECK(access(saved, F_OK) < 0);
	CHECK(lstat(link, &during) == 0 && S_ISLNK(during.st_mode)); /* still a link */

	/* A crash: the saved copy stays; --down (or the next start) puts the
	 * original back. This process's pid in it is not "another edged". */
	CHECK_INT(dns_up(&p, &how), 0);
	CHECK_INT(dns_restore_saved(state), 1);
	now = read_text(conf, &len);
	CHECK(now && len == sizeof(orig) - 1 && !memcmp(now, orig, len));
	free(now);
	CHECK_INT(dns_restore_saved(state), 0);

	/* a crash, then a start without dns: the original back all the same */
	CHECK_INT(dns_up(&p, &how), 0);
	p.n_dns = 0;
	CHECK_INT(dns_up(&p, &how), 0);
	CHECK_INT(how, DNS_NONE);
	now = read_text(conf, &len);
	CHECK(now && len == sizeof(orig) - 1 && !memcmp(now, orig, len));
	free(now);
	CHECK(access(saved, F_OK) < 0);
	p.n_dns = 1;

	/* a start after a crash takes the original, not the crashed one's file */
	CHECK_INT(dns_up(&p, &how), 0);
	CHECK_INT(dns_up(&p, &how), 0);
	dns_down(&p, how);
	now = read_text(conf, &len);
	CHECK(now && len == sizeof(orig) - 1 && !memcmp(now, orig, len));
	free(now);

	/* a saved file that is not ours is left alone, and refuses the start */
	put_text(saved, "nameserver 192.0.2.1\n", 21);
	CHECK_INT(dns_up(&p, &how), -1);
	CHECK_INT(dns_restore_saved(state), -1);
	now = read_text(conf, &len);
	CHECK(now && len == sizeof(orig) - 1 && !memcmp(now, orig, len));
	free(now);
	unlink(saved);

	/* a missing resolv_conf is refused, nothing made */
	p.resolv_conf = "/nonexistent/resolv.conf";
	CHECK_INT(dns_up(&p, &how), -1);
	CHECK(access(saved, F_OK) < 0);

	unlink(link);
	unlink(conf);
	rmdir(state);
	snprintf(saved, sizeof(saved), "%s/state", dir);
	rmdir(saved);
	rmdir(dir);
}

int main(void)
{
	test_render();
	test_saved_parse();
	test_resolved_path();
	test_file_way();
	return check_done("test_dns");
}

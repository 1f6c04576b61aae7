/* Reading and writing /proc/sys of the caller's network namespace, for the
 * few knobs the daemons set: net/ipv4/ip_forward,
 * net/ipv6/conf/all/forwarding, net/ipv4/conf/all/src_valid_mark. */
#ifndef EGRESS_SYSCTL_H
#define EGRESS_SYSCTL_H

#include <stdbool.h>
#include <stddef.h>

/* @path is relative to /proc/sys ("net/ipv4/ip_forward"); a leading '/',
 * an empty path or a ".." component is -EINVAL.
 * sysctl_write() writes @value (a newline is not needed) in one write().
 * Returns 0 or -errno (-ENOENT for an unknown knob, -EACCES/-EPERM when not
 * allowed, the kernel's -EINVAL for a bad value). */
int sysctl_write(const char *path, const char *value);

/* Reads the value into @buf (size @size > 0), NUL-terminated, without the
 * trailing newline. Returns its length, -ENOBUFS if it does not fit, or
 * -errno. */
int sysctl_read(const char *path, char *buf, size_t size);

/* A knob a daemon sets for as long as it runs, and the value it had before:
 * the one way both daemons change and restore sysctls. */
struct sysctl_saved {
	const char *path;
	char old[16]; /* what it had before */
	char set[16]; /* what we set */
	bool changed; /* by us: only then is there anything to restore */
};

/* Sets s->path to value unless it has that value already, keeping the old
 * one, and logs the change ("turned ... to VALUE (was OLD) in this network
 * namespace"). 0 or -errno; nothing changed on failure. */
int sysctl_set_saved(struct sysctl_saved *s, const char *value);
/* Puts the old value back (logged), unless the knob no longer has the value
 * we set: someone else changed it since, and theirs is the newer decision.
 * Accepts a knob that was never changed. */
void sysctl_restore(struct sysctl_saved *s);

#endif

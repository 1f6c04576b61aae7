/* Reading and writing /proc/sys of the caller's network namespace, for the
 * few knobs the daemons set: net/ipv4/ip_forward,
 * net/ipv6/conf/all/forwarding, net/ipv4/conf/all/src_valid_mark. */
#ifndef EGRESS_SYSCTL_H
#define EGRESS_SYSCTL_H

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

#endif

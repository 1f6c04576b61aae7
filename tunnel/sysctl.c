#include "tunnel/sysctl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Builds "/proc/sys/<path>", refusing paths that could leave /proc/sys. */
static int sysctl_path(const char *path, char *full, size_t size)
{
	const char *p;
	int n;

	if (!path || !*path || path[0] == '/')
		return -EINVAL;
	for (p = path; p; p = strchr(p, '/')) {
		if (*p == '/')
			p++;
		if (strncmp(p, "..", 2) == 0 && (p[2] == '/' || p[2] == '\0'))
			return -EINVAL;
	}
	n = snprintf(full, size, "/proc/sys/%s", path);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

int sysctl_write(const char *path, const char *value)
{
	char full[PATH_MAX];
	size_t len = strlen(value);
	ssize_t n;
	int fd = -1, ret;

	ret = sysctl_path(path, full, sizeof(full));
	if (ret < 0)
		return ret;
	fd = open(full, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, value, len);
	if (n < 0)
		ret = -errno;
	else if ((size_t)n != len)
		ret = -EIO;
	close(fd);
	return ret;
}

int sysctl_read(const char *path, char *buf, size_t size)
{
	char full[PATH_MAX];
	ssize_t n;
	int fd = -1, ret;

	if (size == 0)
		return -EINVAL;
	ret = sysctl_path(path, full, sizeof(full));
	if (ret < 0)
		return ret;
	fd = open(full, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size);
	if (n < 0) {
		ret = -errno;
		goto out;
	}
	if ((size_t)n == size) {
		ret = -ENOBUFS;
		goto out;
	}
	while (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';
	ret = (int)n;
out:
	close(fd);
	return ret;
}

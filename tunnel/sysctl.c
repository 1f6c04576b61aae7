#include "tunnel/sysctl.h"

#include "tunnel/log.h"

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

int sysctl_set_saved(struct sysctl_saved *s, const char *value)
{
	int err = sysctl_read(s->path, s->old, sizeof(s->old));

	if (err < 0)
		return err;
	if (strcmp(s->old, value) == 0)
		return 0;
	if (strlen(value) >= sizeof(s->set))
		return -EINVAL;
	err = sysctl_write(s->path, value);
	if (err)
		return err;
	snprintf(s->set, sizeof(s->set), "%s", value);
	s->changed = true;
	log_info("set %s to %s (was %s) in this network namespace", s->path, value, s->old);
	return 0;
}

void sysctl_restore(struct sysctl_saved *s)
{
	char now[sizeof(s->old)];

	if (!s->changed)
		return;
	s->changed = false;
	/* The values we set are numbers, which the kernel prints back as
	 * written. */
	if (sysctl_read(s->path, now, sizeof(now)) < 0 || strcmp(now, s->set) != 0) {
		log_info("left %s as it is: changed by someone else since we set it", s->path);
		return;
	}
	if (sysctl_write(s->path, s->old) == 0)
		log_info("set %s back to %s", s->path, s->old);
}

/* Files written whole: every byte or an error, and replaced atomically (a
 * reader sees the old file or the new one, never part of either). */
#ifndef EGRESS_FILE_H
#define EGRESS_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* Writes all of buf to fd, through short writes and EINTR. 0 or -errno. */
int file_write_all(int fd, const void *buf, size_t len);
/* Writes buf to a new file beside path (path.new.PID, mode mode), flushed
 * to disk: 0 with its name in tmp, or -errno (nothing left behind). The
 * caller renames it over path, or unlinks it. */
int file_write_temp(const char *path, const void *buf, size_t len, mode_t mode, char *tmp,
                    size_t size);
/* A new file at path, mode mode, that must not exist yet (-EEXIST), holding
 * buf, flushed to disk. 0 or -errno (nothing left behind). */
int file_create(const char *path, const void *buf, size_t len, mode_t mode);
/* mkdir -p dir, each level it makes of mode mode. 0 or -errno. */
int file_make_dirs(const char *dir, mode_t mode);
/* The whole of the file at path, at most max bytes (-EFBIG past them), into
 * *buf (malloc'd, NUL-terminated past *len; free it). 0 or -errno. */
int file_read_all(const char *path, size_t max, char **buf, size_t *len);

#endif

#include "tunnel/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static enum log_level max_level = LOG_LVL_INFO;
static const char *log_ident = "egress";

void log_set_level(enum log_level level)
{
	max_level = level;
}

bool log_enabled(enum log_level level)
{
	return level <= max_level;
}

void log_set_ident(const char *ident)
{
	log_ident = ident;
}

__attribute__((format(printf, 3, 0))) static void vlog(enum log_level level, int errnum,
                                                       const char *fmt, va_list ap)
{
	static const char *names[] = {
	        [LOG_LVL_ERR] = "error",
	        [LOG_LVL_WARN] = "warning",
	        [LOG_LVL_INFO] = "info",
	        [LOG_LVL_DEBUG] = "debug",
	};
	char msg[1024];

	if (!log_enabled(level))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "%s: %s: %s%s%s\n", log_ident, names[level], msg,
		        errnum ? ": " : "", errnum ? strerror(errnum) : "");
	else
		fprintf(stderr, "<%d>%s: %s%s%s\n", level, log_ident, msg, errnum ? ": " : "",
		        errnum ? strerror(errnum) : "");
}

#define LOG_FN(name, level, with_errno)                       \
	void name(const char *fmt, ...)                       \
	{                                                     \
		int saved = errno;                            \
		va_list ap;                                   \
		va_start(ap, fmt);                            \
		vlog(level, with_errno ? saved : 0, fmt, ap); \
		va_end(ap);                                   \
		errno = saved;                                \
	}

LOG_FN(log_err, LOG_LVL_ERR, true)
LOG_FN(log_errx, LOG_LVL_ERR, false)
LOG_FN(log_warn, LOG_LVL_WARN, true)
LOG_FN(log_warnx, LOG_LVL_WARN, false)
LOG_FN(log_info, LOG_LVL_INFO, false)
LOG_FN(log_debug, LOG_LVL_DEBUG, false)

bool log_ratelimit(struct log_ratelimit *rl, uint64_t now, uint64_t interval,
                   unsigned long *suppressed)
{
	if (rl->next_ns && now < rl->next_ns) {
		rl->suppressed++;
		return false;
	}
	*suppressed = rl->suppressed;
	rl->suppressed = 0;
	rl->next_ns = now + interval;
	if (!rl->next_ns)
		rl->next_ns = 1; /* 0 means "never logged" */
	return true;
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

/*
 * privileges.h - dropping root after the listeners are bound and the
 * certificates read (`user` / `group` settings).
 */
#ifndef WSB_PRIVILEGES_H
#define WSB_PRIVILEGES_H

#include <stddef.h>

/*
 * Switches the whole process (every thread: glibc broadcasts set*id) to
 * user and group (group NULL or empty: the user's primary group), with the
 * supplementary groups cleared, and checks that root cannot be regained.
 * Returns 0, or -1 with err naming what failed.
 */
int privileges_drop(const char *user, const char *group, char *err, size_t err_len);

#endif

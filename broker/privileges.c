/*
 * privileges.c - the privilege drop (see privileges.h).
 *
 * Order matters: supplementary groups and the gid go first, while we still
 * have the right to change them; the uid last. Afterwards setuid(0) must
 * fail, or the drop did not take.
 */
#include "privileges.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int privileges_drop(const char *user, const char *group, char *err, size_t err_len)
{
    errno = 0;
    struct passwd *pw = getpwnam(user);
    if (pw == NULL) {
        snprintf(err, err_len, "--user: no such user '%s'", user);
        return -1;
    }
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    if (group != NULL && group[0] != '\0') {
        struct group *gr = getgrnam(group);
        if (gr == NULL) {
            snprintf(err, err_len, "--group: no such group '%s'", group);
            return -1;
        }
        gid = gr->gr_gid;
    }
    if (setgroups(1, &gid) != 0 || setgid(gid) != 0) {
        snprintf(err, err_len, "--group: cannot switch to gid %u: %s", (unsigned)gid,
                 strerror(errno));
        return -1;
    }
    if (setuid(uid) != 0) {
        snprintf(err, err_len, "--user: cannot switch to '%s' (uid %u): %s", user, (unsigned)uid,
                 strerror(errno));
        return -1;
    }
    if (uid != 0 && setuid(0) == 0) {
        snprintf(err, err_len, "--user: root could be regained after switching to '%s'", user);
        return -1;
    }
    return 0;
}

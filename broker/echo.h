/*
 * echo.h - the /echo route: every message comes back to its sender.
 */
#ifndef WSB_ECHO_H
#define WSB_ECHO_H

#include "route.h"

extern const struct route echo_route;

#endif

/*
 * mailbox_fixture.c - see mailbox_fixture.h. Uses the broker's own
 * mailbox.c: what is measured is what the workers run.
 */
#include "mailbox_fixture.h"

#include <stdlib.h>

#include "mailbox.h"

struct mailbox_fixture {
    struct mailboxes all;
    struct mailbox_port port[2];
    uint64_t next_id;
};

struct mailbox_fixture *mailbox_fixture_create(unsigned entries)
{
    struct mailbox_fixture *f = calloc(1, sizeof *f);
    if (f == NULL || mailboxes_init(&f->all, 2, entries) != 0 ||
        mailbox_port_init(&f->port[0], &f->all, 0) != 0 ||
        mailbox_port_init(&f->port[1], &f->all, 1) != 0)
        abort();
    return f;
}

size_t mailbox_fixture_round(struct mailbox_fixture *f, unsigned burst)
{
    uint64_t first = f->next_id;
    for (unsigned i = 0; i < burst; i++) {
        struct xmsg m = {.kind = X_DELIVER, .from_worker = 0, .id = f->next_id++};
        if (mailbox_send(&f->port[0], 1, &m) != 0)
            abort();
    }
    size_t in_order = 0;
    struct xmsg m;
    do {
        mailbox_flush(&f->port[0]);
        while (mailbox_receive(&f->port[1], 0, &m))
            in_order += m.id == first + in_order;
    } while (in_order < burst && mailbox_flush(&f->port[0]));
    while (mailbox_receive(&f->port[1], 0, &m))
        in_order += m.id == first + in_order;
    return in_order;
}

void mailbox_fixture_destroy(struct mailbox_fixture *f)
{
    mailbox_port_destroy(&f->port[0]);
    mailbox_port_destroy(&f->port[1]);
    mailboxes_destroy(&f->all);
    free(f);
}

/* snapin.c -- which snapshot chunks a follower accepts (snapin.h). */
#include <stddef.h>

#include "server/snapin.h"

static const char *admit_new(snapin *in, const snapin_node *node, uint64_t from)
{
    switch (in->state) {
    case SNAPIN_IDLE:
        return NULL;
    case SNAPIN_STAGING:
        if (from == in->from) return NULL; /* its sender starts it again */
        if (node->now_ms - in->last_ms >= node->idle_ms) return NULL;
        if (in->from != node->leader && from == node->leader && from != 0) return NULL;
        return "another node's snapshot is being staged";
    default:
        return "a snapshot is being installed";
    }
}

const char *snapin_admit(snapin *in, const snapin_node *node, uint64_t from, uint64_t index,
                         uint64_t term, uint64_t offset)
{
    if (index <= node->committed) return "the snapshot is not past this node's commit index";
    if (offset == 0) {
        const char *why = admit_new(in, node, from);
        if (why) return why;
        in->state = SNAPIN_STAGING;
        in->from = from;
        in->index = index;
        in->term = term;
    } else if (in->state != SNAPIN_STAGING || from != in->from || index != in->index ||
               term != in->term) {
        return "not a chunk of the stream being staged";
    }
    in->last_ms = node->now_ms;
    return NULL;
}

void snapin_failed(snapin *in)
{
    if (in->state == SNAPIN_STAGING) in->state = SNAPIN_IDLE;
}

void snapin_handed(snapin *in, int accepted)
{
    in->state = accepted ? SNAPIN_INSTALLING : SNAPIN_IDLE;
}

void snapin_installed(snapin *in)
{
    in->state = SNAPIN_IDLE;
}

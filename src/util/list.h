/*
 * list.h: an intrusive, circular, doubly-linked list (private). The node lives inside the
 * caller's struct, so linking and unlinking never allocate and unlinking is O(1) without
 * knowing the list. A list is a sentinel head; an empty list's head points at itself. A node
 * that is not on any list is kept self-linked (by cio__list_init and cio__list_remove), so
 * cio__list_linked() tells whether it is on a list and a second remove is harmless.
 *
 *     struct job { int id; struct cio__list node; };
 *     struct cio__list queue = CIO__LIST_HEAD_INIT(queue);
 *     cio__list_push_back(&queue, &job->node);
 *     struct cio__list *n = cio__list_pop_front(&queue);   // NULL when empty
 *     struct job *j = cio__list_entry(n, struct job, node);
 *
 * Not thread safe: a list is protected by whatever protects the structure that owns it.
 */
#ifndef CIO_UTIL_LIST_H
#define CIO_UTIL_LIST_H

#include <stdbool.h>
#include <stddef.h>

#include "util/compiler.h"

struct cio__list {
    struct cio__list *next;
    struct cio__list *prev;
};

/* A static initializer for a head (or an unlinked node) named `name`. */
#define CIO__LIST_HEAD_INIT(name)                                                                  \
    {                                                                                              \
        &(name), &(name)                                                                           \
    }

/* The struct of type `type` whose member `member` is the node `node`. */
#define cio__list_entry(node, type, member) cio__container_of(node, type, member)

/* Iterate over the nodes of `head`; the loop body must not unlink `it`. */
#define cio__list_foreach(it, head) for ((it) = (head)->next; (it) != (head); (it) = (it)->next)

/* Iterate while the body may unlink (or free) `it`; `tmp` holds the next node. */
#define cio__list_foreach_safe(it, tmp, head)                                                      \
    for ((it) = (head)->next, (tmp) = (it)->next; (it) != (head); (it) = (tmp), (tmp) = (it)->next)

/* Make `node` an empty list head, or an unlinked node. */
static inline void cio__list_init(struct cio__list *node)
{
    node->next = node;
    node->prev = node;
}

static inline bool cio__list_empty(const struct cio__list *head)
{
    return head->next == head;
}

/* True when `node` (initialised with cio__list_init) is on some list. */
static inline bool cio__list_linked(const struct cio__list *node)
{
    return node->next != node;
}

/* Link `node` between the adjacent nodes `prev` and `next`. */
static inline void cio__list_link(struct cio__list *node, struct cio__list *prev,
                                  struct cio__list *next)
{
    node->prev = prev;
    node->next = next;
    prev->next = node;
    next->prev = node;
}

static inline void cio__list_push_back(struct cio__list *head, struct cio__list *node)
{
    cio__list_link(node, head->prev, head);
}

static inline void cio__list_push_front(struct cio__list *head, struct cio__list *node)
{
    cio__list_link(node, head, head->next);
}

/* Unlink `node` from whatever list holds it, leaving its own links stale: for a node whose
 * membership is tracked elsewhere (a flag), where the self-link would be a wasted store. */
static inline void cio__list_unlink(struct cio__list *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
}

/* Unlink `node` from whatever list holds it and leave it self-linked. O(1). */
static inline void cio__list_remove(struct cio__list *node)
{
    cio__list_unlink(node);
    cio__list_init(node);
}

/* The first node, or NULL when the list is empty. */
static inline struct cio__list *cio__list_first(const struct cio__list *head)
{
    return cio__list_empty(head) ? NULL : head->next;
}

/* Unlink and return the first node, or NULL when the list is empty. */
static inline struct cio__list *cio__list_pop_front(struct cio__list *head)
{
    struct cio__list *node = cio__list_first(head);
    if (node != NULL)
        cio__list_remove(node);
    return node;
}

/* Move every node of `from` to the end of `to`, in order; `from` is left empty. O(1). */
static inline void cio__list_splice_back(struct cio__list *to, struct cio__list *from)
{
    if (cio__list_empty(from))
        return;
    struct cio__list *first = from->next, *last = from->prev;
    first->prev = to->prev;
    to->prev->next = first;
    last->next = to;
    to->prev = last;
    cio__list_init(from);
}

#endif

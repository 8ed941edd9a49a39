/* Intrusive circular doubly-linked list. */
#ifndef API_UTIL_LIST_H
#define API_UTIL_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct api__list {
  struct api__list *prev, *next;
} api__list;

static inline void api__list_init(api__list *l) { l->prev = l->next = l; }
static inline bool api__list_empty(const api__list *l) { return l->next == l; }
static inline void api__list_push_back(api__list *head, api__list *n) {
  n->prev = head->prev;
  n->next = head;
  head->prev->next = n;
  head->prev = n;
}
static inline void api__list_remove(api__list *n) {
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->prev = n->next = n;
}

#define API__CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#endif

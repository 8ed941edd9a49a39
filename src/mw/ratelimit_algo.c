/*
 * The two counting algorithms, on one key's state, in integer arithmetic so that a limit of N is
 * hit at exactly the N+1-th request and refill never drifts. Callers (stores) hold the key's lock.
 */
#include "mw/ratelimit_internal.h"

static uint64_t div_up(uint64_t a, uint64_t b) { return a / b + (a % b != 0); }

static uint64_t token_bucket(api__rate_cell *cell, const api_rate_params *p, unsigned cost,
                             uint64_t now, api_rate_result *r) {
  const uint64_t w = p->window_ms, rate = p->limit, cap = p->burst * w;
  if (!cell->used || cell->algo != API_RATE_TOKEN_BUCKET || cell->a > cap) {
    *cell = (api__rate_cell){.a = cap, .b = now, .algo = API_RATE_TOKEN_BUCKET, .used = true};
  } else if (now > cell->b) {
    uint64_t elapsed = now - cell->b, missing = cap - cell->a;
    /* elapsed is compared before it is multiplied: past a full refill, more time changes
     * nothing, and below it elapsed * rate <= cap + rate cannot overflow */
    cell->a = elapsed >= div_up(missing, rate) ? cap : cell->a + elapsed * rate;
    cell->b = now;
  }
  const uint64_t need = (uint64_t)cost * w;
  r->limit = p->burst;
  if (cell->a >= need) {
    cell->a -= need;
    r->allowed = 1;
    r->retry_after_ms = 0;
  } else {
    r->allowed = 0;
    /* a cost above the burst never fits: point at a full bucket */
    r->retry_after_ms = need > cap ? div_up(cap - cell->a, rate) : div_up(need - cell->a, rate);
  }
  r->remaining = cell->a / w;
  r->reset_ms = div_up(cap - cell->a, rate);
  return now + r->reset_ms;
}

static uint64_t sliding_window(api__rate_cell *cell, const api_rate_params *p, unsigned cost,
                               uint64_t now, api_rate_result *r) {
  const uint64_t w = p->window_ms, limit = p->limit, start = now - now % w;
  if (!cell->used || cell->algo != API_RATE_SLIDING_WINDOW || cell->b > limit || cell->c > limit) {
    *cell = (api__rate_cell){.a = start, .algo = API_RATE_SLIDING_WINDOW, .used = true};
  } else if (start > cell->a) {
    cell->c = start - cell->a == w ? cell->b : 0;
    cell->b = 0;
    cell->a = start;
  }
  /* a clock that went back stays in the newest window seen */
  const uint64_t elapsed = now > cell->a ? now - cell->a : 0;
  const uint64_t cur = cell->b, prev = cell->c, budget = limit * w;
  /* the sliding count, scaled by w: prev * (w - elapsed) / w + cur */
  uint64_t used = prev * (w - elapsed) + cur * w;
  const uint64_t need = (uint64_t)cost * w;
  r->limit = limit;
  if (cost <= limit && used + need <= budget) {
    cell->b += cost;
    used += need;
    r->allowed = 1;
    r->retry_after_ms = 0;
  } else {
    r->allowed = 0;
    if (cost > limit) {
      r->retry_after_ms = (w - elapsed) + w; /* never fits: both windows empty */
    } else if (cur + cost <= limit) {
      /* fits within this window once enough of prev has slid out:
       * prev * (w - elapsed - t) <= (limit - cur - cost) * w */
      r->retry_after_ms = w - elapsed - (limit - cur - cost) * w / prev;
    } else {
      /* the next window, where prev' = cur, cur' = 0: cur * (w - t') <= (limit - cost) * w */
      uint64_t fits = (limit - cost) * w / cur;
      r->retry_after_ms = (w - elapsed) + (fits >= w ? 0 : w - fits);
    }
  }
  r->remaining = used >= budget ? 0 : (budget - used) / w;
  r->reset_ms = cell->a + w - (now > cell->a ? now : cell->a);
  return cell->a + 2 * w;
}

uint64_t api__rate_apply(api__rate_cell *cell, const api_rate_params *p, unsigned cost,
                         uint64_t now, api_rate_result *r) {
  if (p->algorithm == API_RATE_SLIDING_WINDOW) return sliding_window(cell, p, cost, now, r);
  return token_bucket(cell, p, cost, now, r);
}

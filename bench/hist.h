/* bench/hist.h: an HDR-style log-bucketed latency histogram.
 *
 * Values are unsigned 64-bit (nanoseconds here). Values below 128 have their
 * own bucket; above that every power of two is split into 128 linear
 * sub-buckets, so any reported value is within 1/128 (0.8%) of the true one.
 * Fixed size (58 * 128 buckets, 59 KB), O(1) record, no allocation. */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>
#include <string.h>

#define HIST_SUB_BITS 7
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_BUCKETS ((64 - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
	uint64_t n, max, min;
	double sum;
	uint64_t count[HIST_BUCKETS];
};

static inline void hist_init(struct hist *h)
{
	memset(h, 0, sizeof *h);
	h->min = UINT64_MAX;
}

static inline unsigned hist_index(uint64_t v)
{
	if (v < HIST_SUB)
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned shift = msb - HIST_SUB_BITS;
	unsigned mant = (unsigned)(v >> shift); /* in [HIST_SUB, 2*HIST_SUB) */
	return (shift + 1) * HIST_SUB + (mant - HIST_SUB);
}

/* The highest value that lands in bucket i (HdrHistogram's "highest
 * equivalent value"), so percentiles never under-report. */
static inline uint64_t hist_bucket_high(unsigned i)
{
	if (i < HIST_SUB)
		return i;
	unsigned shift = i / HIST_SUB - 1;
	uint64_t mant = HIST_SUB + i % HIST_SUB;
	return ((mant + 1) << shift) - 1;
}

static inline void hist_record(struct hist *h, uint64_t v)
{
	h->count[hist_index(v)]++;
	h->n++;
	h->sum += (double)v;
	if (v > h->max)
		h->max = v;
	if (v < h->min)
		h->min = v;
}

static inline void hist_merge(struct hist *dst, const struct hist *src)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		dst->count[i] += src->count[i];
	dst->n += src->n;
	dst->sum += src->sum;
	if (src->max > dst->max)
		dst->max = src->max;
	if (src->min < dst->min)
		dst->min = src->min;
}

/* Value at percentile p (0..100); 0 for an empty histogram. */
static inline uint64_t hist_pct(const struct hist *h, double p)
{
	if (!h->n)
		return 0;
	uint64_t want = (uint64_t)((p / 100.0) * (double)h->n + 0.5);
	if (want < 1)
		want = 1;
	if (want > h->n)
		want = h->n;
	uint64_t seen = 0;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->count[i];
		if (seen >= want) {
			uint64_t v = hist_bucket_high(i);
			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}

#endif

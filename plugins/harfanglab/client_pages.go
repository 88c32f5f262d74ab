package harfanglab

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
)

// ListPagesAtOnce is how many pages ListOfParallel keeps in flight. A whole IOC list at start
// is thousands of pages (1 000 000 entries: 2 000 pages of 500); read one after the other,
// each costs a round trip plus the server's query, and the server's offset query gets slower
// the deeper the page.
const ListPagesAtOnce = 4

// ListOfParallel is ListOf for reading a whole list at once (the index load at start): the
// first page's `next` link gives the page stride (its `offset`: DRF limit/offset pagination,
// the one HarfangLab answers, K pages IOCRule by `limit=500&offset=`), and the pages its
// `count` announces are then fetched up to parallel at a time, by offset. each is still called
// from this goroutine, in list order. Past the announced pages, `next` is followed (the list
// grew meanwhile). A `next` link without a usable offset is followed page by page, as ListOf.
// Offsets are what `next` would have given: the same pages, read sooner.
func ListOfParallel[T any](ctx context.Context, c *Client, path string, q url.Values, parallel int, each func(T) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the fetches still in flight when each fails
	f := <-fetchPage[T](ctx, c, c.resolve(path, withLimit(q)))
	if f.err != nil {
		return f.err
	}
	for _, r := range f.p.Results {
		if err := each(r); err != nil {
			return err
		}
	}
	if f.p.Next == nil || *f.p.Next == "" || len(f.p.Results) == 0 {
		return nil
	}
	next, err := c.followNext(*f.p.Next)
	if err != nil {
		return fmt.Errorf("listing %s: %w", path, err)
	}
	stride, ok := pageStride(next)
	if !ok || parallel < 2 || f.p.Count <= stride {
		return listFrom(ctx, c, path, next, each)
	}
	return listOffsets(ctx, c, path, next, stride, f.p.Count, parallel, each)
}

// pageStride is the offset of a DRF `next` link from the first page, when the link pages by
// offset with that same limit (offset = limit: the server's page size, its cap applied).
func pageStride(next *url.URL) (int, bool) {
	q := next.Query()
	off, err := strconv.Atoi(q.Get("offset"))
	if err != nil || off <= 0 {
		return 0, false
	}
	if l := q.Get("limit"); l != "" && l != strconv.Itoa(off) {
		return 0, false
	}
	return off, true
}

// atOffset is next with its offset set to off.
func atOffset(next *url.URL, off int) *url.URL {
	u := *next
	q := u.Query()
	q.Set("offset", strconv.Itoa(off))
	u.RawQuery = q.Encode()
	return &u
}

// listOffsets reads the pages at stride, 2×stride, … below count, parallel at a time, in
// order; the last page's `next` (if any) is then followed.
func listOffsets[T any](ctx context.Context, c *Client, path string, next *url.URL, stride, count, parallel int, each func(T) error) error {
	var inFlight []<-chan fetchedPage[T]
	off := stride
	for {
		for len(inFlight) < parallel && off < count {
			inFlight = append(inFlight, fetchPage[T](ctx, c, atOffset(next, off)))
			off += stride
		}
		if len(inFlight) == 0 {
			return nil
		}
		f := <-inFlight[0]
		inFlight = inFlight[1:]
		if f.err != nil {
			return f.err
		}
		for _, r := range f.p.Results {
			if err := each(r); err != nil {
				return err
			}
		}
		if len(inFlight) > 0 || off < count {
			continue
		}
		// The last announced page: more entries were added while reading.
		if f.p.Next == nil || *f.p.Next == "" || len(f.p.Results) == 0 {
			return nil
		}
		u, err := c.followNext(*f.p.Next)
		if err != nil {
			return fmt.Errorf("listing %s: %w", path, err)
		}
		return listFrom(ctx, c, path, u, each)
	}
}

package fsm

// readCache holds values of a shard's data keys that Tx.Get found, as the current apply batch sees them
// (between batches: as committed). DESIGN.md invariant 11: every committed or batched write to a cached key
// goes through Tx.flush, which updates the entry, so a hit is exactly what a Pebble read of the indexed batch
// would return; anything that changes the state outside apply, or a batch that does not commit, clears it.
// It only decides where a value is read from, never what is written. FSM goroutine only.
type readCache struct {
	max     int // entries; 0 disables the cache
	entries map[string][]byte
}

// maxCachedValue keeps large values (message bodies, lists) out: the hot reads are small counters and dialogs.
const maxCachedValue = 256

// defaultCacheEntries per shard: ~a few MB at most (keys ~30 B, values <= 256 B).
const defaultCacheEntries = 16 << 10

func (c *readCache) get(key []byte) ([]byte, bool) {
	if c.max == 0 {
		return nil, false
	}
	v, ok := c.entries[string(key)]
	return v, ok
}

// fill records a value read from the batch (copied).
func (c *readCache) fill(key, v []byte) {
	if c.max == 0 || len(v) > maxCachedValue {
		return
	}
	if c.entries == nil {
		c.entries = make(map[string][]byte)
	}
	if len(c.entries) >= c.max {
		for k := range c.entries { // an arbitrary victim: the cache never affects what is written
			delete(c.entries, k)
			break
		}
	}
	c.entries[string(key)] = append(make([]byte, 0, len(v)), v...)
}

// write follows a write staged into the batch: a cached key takes its new value (or leaves, if deleted or large).
// v must not be modified afterwards.
func (c *readCache) write(key string, v []byte, del bool) {
	if _, ok := c.entries[key]; !ok {
		return
	}
	if del || len(v) > maxCachedValue {
		delete(c.entries, key)
		return
	}
	c.entries[key] = v
}

func (c *readCache) clear() { clear(c.entries) }

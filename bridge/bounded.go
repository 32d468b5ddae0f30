package bridge

import (
	"container/list"
	"sync"

	"maunium.net/go/mautrix/bridgev2/networkid"

	"github.com/msnbridge/msnbridge/msn/sb"
)

// Per-login state stays bounded: the passports of hashed ghost ids are a least-recently-used
// cache (a miss falls back to the ghost's stored metadata), and the group bindings of the client
// are dropped when their conversation closes and swept of conversations the switchboard manager
// no longer holds.

// maxCachedPassports bounds the hashed-ghost-id → passport cache of a login.
const maxCachedPassports = 4096

// maxBoundGroups is the number of group bindings above which a new binding sweeps the ones of
// conversations the manager forgot (the manager itself keeps at most sb.DefaultMaxGroups
// dormant ones).
const maxBoundGroups = 2 * sb.DefaultMaxGroups

// passportCache is a bounded LRU map from hashed ghost ids to passports.
type passportCache struct {
	mu    sync.Mutex
	limit int
	order *list.List // front: most recently used; values are networkid.UserID
	items map[networkid.UserID]passportEntry
}

type passportEntry struct {
	passport string
	elem     *list.Element
}

func newPassportCache(limit int) *passportCache {
	return &passportCache{limit: limit, order: list.New(), items: make(map[networkid.UserID]passportEntry)}
}

func (p *passportCache) get(id networkid.UserID) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.items[id]
	if !ok {
		return "", false
	}
	p.order.MoveToFront(e.elem)
	return e.passport, true
}

func (p *passportCache) put(id networkid.UserID, passport string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.items[id]; ok {
		p.order.MoveToFront(e.elem)
		e.passport = passport
		p.items[id] = e
		return
	}
	p.items[id] = passportEntry{passport: passport, elem: p.order.PushFront(id)}
	for p.order.Len() > p.limit {
		oldest := p.order.Back()
		p.order.Remove(oldest)
		delete(p.items, oldest.Value.(networkid.UserID))
	}
}

func (p *passportCache) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.items)
}

// unbindGroup forgets the portal binding of a group conversation whose switchboard closed; the
// next event or message finds the same portal again by its roster.
func (c *Client) unbindGroup(conv *sb.Conversation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if id, ok := c.convGroup[conv]; ok {
		delete(c.convGroup, conv)
		if c.groupConv[id] == conv {
			delete(c.groupConv, id)
		}
	}
}

// sweepGroupsLocked drops the bindings of conversations the manager no longer holds, once there
// are more than maxBoundGroups; c.mu is held.
func (c *Client) sweepGroupsLocked() {
	if len(c.convGroup) <= maxBoundGroups {
		return
	}
	for conv, id := range c.convGroup {
		if c.sbm == nil || c.sbm.Group(conv.ID()) != conv {
			delete(c.convGroup, conv)
			if c.groupConv[id] == conv {
				delete(c.groupConv, id)
			}
		}
	}
}

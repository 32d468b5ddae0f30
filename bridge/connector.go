// Package bridge is the bridgev2 network connector of the MSN bridge: the connector itself,
// the login flow, the per-login MSN client (NS session and switchboards), the handlers in both
// directions, the bot commands, room capabilities and bridge states. It is the only package
// that implements bridgev2 interfaces.
package bridge

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/util/configupgrade"
	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/bridgev2"
	bridgedb "maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/matrix"
	"maunium.net/go/mautrix/bridgev2/networkid"

	"github.com/msnbridge/msnbridge/database"
	"github.com/msnbridge/msnbridge/msn/ns"
	"github.com/msnbridge/msnbridge/puppet"
)

// Connector is the MSN network connector.
type Connector struct {
	Bridge *bridgev2.Bridge
	Config Config
	Store  *database.Store

	sealer   *database.Sealer
	presence *puppet.Pusher
	// avatars caches contacts' display pictures by SHA1D for every login (avatars.go).
	avatarsOnce sync.Once
	avatars     *avatarCache
	// pacer spaces the logins of all clients (pacer.go); made on first use.
	pacerOnce sync.Once
	pacer     *loginPacer

	// loginFunc logs in to MSN; tests may replace it. Default ns.Login.
	loginFunc func(ctx context.Context, cfg ns.Config, passport, password string) (*ns.Session, error)
}

var (
	_ bridgev2.NetworkConnector            = (*Connector)(nil)
	_ bridgev2.ConfigValidatingNetwork     = (*Connector)(nil)
	_ bridgev2.StoppableNetwork            = (*Connector)(nil)
	_ bridgev2.IdentifierValidatingNetwork = (*Connector)(nil)
)

// GetName describes the network and sets the defaults of the generated config.
func (c *Connector) GetName() bridgev2.BridgeName {
	return bridgev2.BridgeName{
		DisplayName:          "MSN",
		NetworkURL:           "https://escargot.chat",
		NetworkID:            "msn",
		BeeperBridgeType:     "github.com/msnbridge/msnbridge",
		DefaultPort:          29340,
		DefaultCommandPrefix: "!msn",
	}
}

// GetDBMetaTypes returns the metadata types stored in bridgev2's tables.
func (c *Connector) GetDBMetaTypes() bridgedb.MetaTypes {
	return bridgedb.MetaTypes{
		Portal:    func() any { return &database.PortalMetadata{} },
		Ghost:     func() any { return &database.GhostMetadata{} },
		Message:   func() any { return &database.MessageMetadata{} },
		UserLogin: func() any { return &database.UserLoginMetadata{} },
	}
}

// GetCapabilities returns the general capabilities of the connector.
func (c *Connector) GetCapabilities() *bridgev2.NetworkGeneralCapabilities {
	return &bridgev2.NetworkGeneralCapabilities{
		Provisioning: bridgev2.ProvisioningCapabilities{
			ResolveIdentifier: bridgev2.ResolveIdentifierCapabilities{
				CreateDM: true, LookupEmail: true, ContactList: true, Search: true,
			},
			GroupCreation: groupCapabilities,
		},
	}
}

// GetBridgeInfoVersion versions the m.bridge and capability events.
func (c *Connector) GetBridgeInfoVersion() (info, capabilities int) {
	return 1, 1
}

// GetConfig returns the example network config, the struct to load it into and its upgrader.
func (c *Connector) GetConfig() (example string, data any, upgrader configupgrade.Upgrader) {
	return exampleConfig, &c.Config, &configupgrade.StructUpgrader{
		SimpleUpgrader: upgradeConfig,
		Base:           exampleConfig,
	}
}

// ValidateConfig checks the network config before the bridge starts.
func (c *Connector) ValidateConfig() error {
	return c.Config.Validate()
}

// ValidateUserID tells bridgev2 which ghost ids belong to this network.
func (c *Connector) ValidateUserID(id networkid.UserID) bool {
	if puppet.IsHashedID(id) {
		return len(id) > 0
	}
	_, ok := puppet.PassportFromID(id)
	return ok
}

// Init stores the bridge and prepares the bridge's own tables and commands.
func (c *Connector) Init(br *bridgev2.Bridge) {
	c.Bridge = br
	c.Store = database.New(br.ID, br.DB.Database, dbutil.ZeroLogger(br.Log.With().Str("db_section", "msn").Logger()))
	if c.loginFunc == nil {
		c.loginFunc = ns.Login
	}
	c.registerCommands()
}

// Start upgrades the bridge's tables and starts the presence pusher.
func (c *Connector) Start(ctx context.Context) error {
	if err := c.Config.Validate(); err != nil {
		return err
	}
	sealer, err := database.NewSealer(c.Config.passwordKey)
	if err != nil {
		return fmt.Errorf("password encryption: %w", err)
	}
	c.sealer = sealer
	removeStaleFiles(*zerolog.Ctx(ctx), time.Now())
	if err := c.Store.Upgrade(ctx); err != nil {
		return bridgev2.DBUpgradeError{Err: err, Section: "msn"}
	}
	// bridgev2 has upgraded its tables before starting the connector.
	if err := c.Store.IndexPortals(ctx); err != nil {
		return bridgev2.DBUpgradeError{Err: err, Section: "msn"}
	}
	c.presence = puppet.NewPusher(puppet.PusherConfig{
		Refresh: c.Config.presenceRefresh,
		MaxRate: float64(c.Config.PresenceMaxRate),
		Resolve: c.presenceSetter,
		Logger:  c.Bridge.Log.With().Str("component", "presence").Logger(),
		// Only ghosts that share a room with a Matrix user are pushed (presencerooms.go).
		RequireRoom: true,
	})
	if c.Config.BridgePresence {
		c.presence.Start()
	}
	c.encryptBotNotices()
	return nil
}

// Stop stops the presence pusher.
func (c *Connector) Stop() {
	if c.presence != nil {
		c.presence.Stop()
	}
}

// presenceSetter finds the appservice intent of a ghost for presence updates.
func (c *Connector) presenceSetter(ctx context.Context, key string) (puppet.PresenceSetter, error) {
	ghost, err := c.Bridge.GetGhostByID(ctx, networkid.UserID(key))
	if err != nil {
		return nil, fmt.Errorf("get ghost: %w", err)
	}
	asIntent, ok := ghost.Intent.(*matrix.ASIntent)
	if !ok || asIntent.Matrix == nil {
		return nil, nil
	}
	if err := asIntent.Matrix.EnsureRegistered(ctx); err != nil {
		return nil, fmt.Errorf("register ghost: %w", err)
	}
	return asIntent.Matrix, nil
}

// updatePresence queues a presence change for a ghost as one login sees it when presence
// bridging is on; a ghost several logins see shows the most online of their views.
func (c *Connector) updatePresence(login networkid.UserLoginID, ghostID networkid.UserID, status, psm string) {
	if c.presence == nil || !c.Config.BridgePresence {
		return
	}
	c.presence.UpdateFrom(string(ghostID), string(login), puppet.MapPresence(status, psm))
}

// LoadUserLogin attaches an MSN client to a stored login. It does not connect.
func (c *Connector) LoadUserLogin(ctx context.Context, login *bridgev2.UserLogin) error {
	login.Client = newClient(c, login)
	return nil
}

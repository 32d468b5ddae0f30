package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/commands"
	"maunium.net/go/mautrix/format"

	"github.com/msnbridge/msnbridge/msn/ns"
	"github.com/msnbridge/msnbridge/puppet"
)

// HelpSectionMSN groups the MSN commands in the bot's help.
var HelpSectionMSN = commands.HelpSection{Name: "MSN", Order: 25}

// commandTimeout bounds the MSN request of one command.
const commandTimeout = 30 * time.Second

func (c *Connector) registerCommands() {
	proc, ok := c.Bridge.Commands.(*commands.Processor)
	if !ok {
		return
	}
	proc.AddHandlers(
		c.sessionCommand("set-status", "Set your MSN status", "<online|away|busy|brb|lunch|phone|idle|invisible>", cmdSetStatus),
		c.sessionCommand("set-psm", "Set your MSN personal message (empty to clear)", "[text]", cmdSetPSM),
		c.sessionCommand("set-nick", "Set your MSN friendly name", "<name>", cmdSetNick),
		c.sessionCommand("add-contact", "Add a contact to your MSN list", "<passport>", passportCmd(func(ctx context.Context, s *ns.Session, p string) error { return s.AddContact(ctx, p) }, "Added %s to your contacts.")),
		c.sessionCommand("remove-contact", "Remove a contact from your MSN list", "<passport>", passportCmd(func(ctx context.Context, s *ns.Session, p string) error { return s.RemoveContact(ctx, p) }, "Removed %s from your contacts.")),
		c.sessionCommand("block", "Block an MSN contact", "<passport>", passportCmd(func(ctx context.Context, s *ns.Session, p string) error { return s.Block(ctx, p) }, "Blocked %s.")),
		c.sessionCommand("unblock", "Unblock an MSN contact", "<passport>", passportCmd(func(ctx context.Context, s *ns.Session, p string) error { return s.Unblock(ctx, p) }, "Unblocked %s.")),
		c.sessionCommand("accept", "Accept a contact request and add the contact back", "<passport>", c.cmdAnswerRequest(true)),
		c.sessionCommand("ignore", "Ignore a contact request", "<passport>", c.cmdAnswerRequest(false)),
		&commands.FullHandler{
			Name: "requests", Func: c.cmdRequests, RequiresLogin: true,
			Help: commands.HelpMeta{Section: HelpSectionMSN, Description: "List pending MSN contact requests"},
		},
		&commands.FullHandler{
			Name: "nudge", Func: c.cmdNudge, RequiresLogin: true, RequiresPortal: true,
			Help: commands.HelpMeta{Section: HelpSectionMSN, Description: "Nudge the contact of this room (also: send `/nudge` as a message)"},
		},
		&commands.FullHandler{
			Name: "reconnect", Func: c.cmdReconnect, RequiresLogin: true,
			Help: commands.HelpMeta{Section: HelpSectionMSN, Description: "Reconnect to MSN (also after signing in elsewhere)"},
		},
	)
}

// loginClient returns the MSN client of the user's default login.
func loginClient(ce *commands.Event) (*bridgev2.UserLogin, *Client) {
	login := ce.User.GetDefaultLogin()
	if login == nil {
		ce.Reply("You're not logged in to MSN.")
		return nil, nil
	}
	client, ok := login.Client.(*Client)
	if !ok {
		ce.Reply("Your login has no MSN client.")
		return nil, nil
	}
	return login, client
}

type sessionFunc func(ce *commands.Event, client *Client, sess *ns.Session)

// sessionCommand wraps a command that needs a live MSN session.
func (c *Connector) sessionCommand(name, desc, args string, fn sessionFunc) *commands.FullHandler {
	return &commands.FullHandler{
		Name:          name,
		RequiresLogin: true,
		Help:          commands.HelpMeta{Section: HelpSectionMSN, Description: desc, Args: args},
		Func: func(ce *commands.Event) {
			_, client := loginClient(ce)
			if client == nil {
				return
			}
			sess, _ := client.session()
			if sess == nil {
				ce.Reply("You're not connected to MSN right now.")
				return
			}
			fn(ce, client, sess)
		},
	}
}

// md escapes text that comes from MSN (friendly names, server errors) or from the user's
// arguments for a command reply, which bridgev2 renders as Markdown: a contact named
// "[x](https://…)" must not turn into a link in the bot's message.
func md(v any) string {
	return format.EscapeMarkdown(fmt.Sprint(v))
}

func cmdCtx(ce *commands.Event) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ce.Ctx, commandTimeout)
}

func cmdSetStatus(ce *commands.Event, client *Client, sess *ns.Session) {
	if len(ce.Args) != 1 {
		ce.Reply("Usage: `$cmdprefix set-status <online|away|busy|brb|lunch|phone|idle|invisible>`")
		return
	}
	st, ok := puppet.ParseStatus(ce.Args[0])
	if !ok {
		ce.Reply("Unknown status %q. Use online, away, busy, brb, lunch, phone, idle or invisible.", ce.Args[0])
		return
	}
	ctx, cancel := cmdCtx(ce)
	defer cancel()
	if err := client.setStatus(ctx, sess, ns.Status(st)); err != nil {
		ce.Reply("Failed to set status: %s", md(err))
		return
	}
	ce.Reply("Status set to %s.", strings.ToLower(ce.Args[0]))
}

func cmdSetPSM(ce *commands.Event, client *Client, sess *ns.Session) {
	ctx, cancel := cmdCtx(ce)
	defer cancel()
	if err := client.setPersonalMessage(ctx, sess, ce.RawArgs); err != nil {
		if errors.Is(err, ns.ErrNotSupported) {
			ce.Reply("Personal messages need MSNP11 or newer; this server speaks MSNP%d.", sess.Version())
			return
		}
		ce.Reply("Failed to set personal message: %s", md(err))
		return
	}
	if ce.RawArgs == "" {
		ce.Reply("Personal message cleared.")
	} else {
		ce.Reply("Personal message set.")
	}
}

func cmdSetNick(ce *commands.Event, client *Client, sess *ns.Session) {
	name := strings.TrimSpace(ce.RawArgs)
	if name == "" {
		ce.Reply("Usage: `$cmdprefix set-nick <name>`")
		return
	}
	ctx, cancel := cmdCtx(ce)
	defer cancel()
	if err := sess.SetFriendlyName(ctx, name); err != nil {
		ce.Reply("Failed to set friendly name: %s", md(err))
		return
	}
	// The session's own profile event updates the ghost too; doing it here as well makes the
	// new name visible before the reply even if that event was dropped.
	client.ownNameChanged(ctx, sess.FriendlyName())
	ce.Reply("Friendly name set.")
}

func passportArg(ce *commands.Event) (string, bool) {
	if len(ce.Args) != 1 {
		ce.Reply("Usage: `$cmdprefix %s <passport>`", ce.Command)
		return "", false
	}
	p, err := puppet.NormalizePassport(ce.Args[0])
	if err != nil {
		ce.Reply("%s", md(err))
		return "", false
	}
	return p, true
}

func passportCmd(do func(ctx context.Context, s *ns.Session, passport string) error, okMsg string) sessionFunc {
	return func(ce *commands.Event, _ *Client, sess *ns.Session) {
		passport, ok := passportArg(ce)
		if !ok {
			return
		}
		ctx, cancel := cmdCtx(ce)
		defer cancel()
		if err := do(ctx, sess, passport); err != nil {
			ce.Reply("Failed: %s", md(err))
			return
		}
		ce.Reply(okMsg, md(passport))
	}
}

func (c *Connector) cmdAnswerRequest(accept bool) sessionFunc {
	return func(ce *commands.Event, client *Client, sess *ns.Session) {
		passport, ok := passportArg(ce)
		if !ok {
			return
		}
		ctx, cancel := cmdCtx(ce)
		defer cancel()
		var err error
		if accept {
			err = sess.AcceptAddedBy(ctx, passport, true)
		} else {
			err = sess.IgnoreAddedBy(ctx, passport)
		}
		if err != nil {
			ce.Reply("Failed: %s", md(err))
			return
		}
		if _, err := c.Store.DeletePendingRequest(ctx, client.login.ID, passport); err != nil {
			client.log.Err(err).Msg("Failed to delete pending request")
		}
		if accept {
			ce.Reply("Accepted %s and added them to your contacts.", md(passport))
		} else {
			ce.Reply("Ignored the request from %s.", md(passport))
		}
	}
}

func (c *Connector) cmdRequests(ce *commands.Event) {
	login, _ := loginClient(ce)
	if login == nil {
		return
	}
	reqs, err := c.Store.PendingRequests(ce.Ctx, login.ID)
	if err != nil {
		ce.Reply("Failed to list requests: %s", md(err))
		return
	}
	if len(reqs) == 0 {
		ce.Reply("No pending contact requests.")
		return
	}
	var sb strings.Builder
	sb.WriteString("Pending contact requests:\n")
	for _, r := range reqs {
		sb.WriteString("* " + md(r.Passport))
		if n := puppet.DecodeFriendlyName(r.FriendlyName); n != "" && n != r.Passport {
			sb.WriteString(" (" + md(n) + ")")
		}
		sb.WriteString("\n")
	}
	prefix := ce.Bridge.Config.CommandPrefix
	sb.WriteString("\nAnswer with `" + prefix + " accept <passport>` or `" + prefix + " ignore <passport>`.")
	ce.Reply("%s", sb.String())
}

func (c *Connector) cmdNudge(ce *commands.Event) {
	login, _, err := ce.Portal.FindPreferredLogin(ce.Ctx, ce.User, false)
	if err != nil || login == nil {
		ce.Reply("You're not logged in to MSN in this room.")
		return
	}
	client, ok := login.Client.(*Client)
	if !ok {
		ce.Reply("Your login has no MSN client.")
		return
	}
	conv, _, err := client.conversationFor(ce.Ctx, ce.Portal)
	if err != nil {
		ce.Reply("Can't nudge: %s", md(err))
		return
	}
	ctx, cancel := context.WithTimeout(ce.Ctx, deliveryTimeout)
	defer cancel()
	outcome, err := conv.SendNudge(ctx).Wait(ctx)
	if err != nil {
		ce.Reply("Nudge not delivered (%s): %s", outcome, md(err))
		return
	}
	ce.React("✅")
}

func (c *Connector) cmdReconnect(ce *commands.Event) {
	login, client := loginClient(ce)
	if client == nil {
		return
	}
	client.Disconnect()
	if err := client.setSignedInElsewhere(ce.Ctx, false); err != nil {
		ce.Reply("Failed to save login: %v", err)
		return
	}
	client.Connect(login.Log.WithContext(c.Bridge.BackgroundCtx))
	ce.Reply("Reconnecting to MSN…")
}

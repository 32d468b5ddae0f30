package database

// UserLoginMetadata is stored with each bridgev2 user login.
type UserLoginMetadata struct {
	// Passport is the MSN account, lower case (also the login id).
	Passport string `json:"passport"`
	// Password is the password sealed with the config's key (see [Sealer]); never logged.
	Password string `json:"password_enc"`
	// MachineGUID "{…}" identifies the bridge as one endpoint (MSNP16+); stable per login.
	MachineGUID string `json:"machine_guid"`
	// Server is the name of the login's server in network.servers (an NS address for logins made
	// with the old allow_custom_server); empty: the first configured server.
	Server string `json:"server,omitempty"`
	// ProtocolVersion is the last negotiated MSNP version (informational).
	ProtocolVersion int `json:"protocol_version,omitempty"`
	// SignedInElsewhere is set when the server logged us out for another sign-in; the bridge
	// does not reconnect by itself until the user reconnects or logs in again.
	SignedInElsewhere bool `json:"signed_in_elsewhere,omitempty"`
	// Status is the MSN status code the user chose last with set-status (e.g. "BSY"); every
	// new session starts with it and it is applied again after each reconnect. Empty: online.
	Status string `json:"status,omitempty"`
	// PersonalMessage is the personal message the user set last with set-psm; MSN servers do
	// not hand it back at login, so the bridge sends it again after each (re)connect when
	// PersonalMessageSet is true (also when it was cleared to ""). The friendly name is not kept
	// here: the server restores it at login.
	PersonalMessage    string `json:"personal_message,omitempty"`
	PersonalMessageSet bool   `json:"personal_message_set,omitempty"`
}

// PortalMetadata is stored with each portal.
type PortalMetadata struct {
	// Group is set for multi-party conversations (the portal id is bridge-made).
	Group bool `json:"group,omitempty"`
}

// GhostMetadata is stored with each ghost.
type GhostMetadata struct {
	// Passport is the contact's passport; needed for ghosts with shortened (hashed) ids.
	Passport string `json:"passport,omitempty"`
}

// MessageMetadata is stored with each bridged message.
type MessageMetadata struct {
	// Snippet is the start of the text, used to quote the message in replies sent to MSN.
	Snippet string `json:"snippet,omitempty"`
	// SenderName is the sender's name at the time, for reply quotes.
	SenderName string `json:"sender_name,omitempty"`
}

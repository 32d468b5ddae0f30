-- v1 -> v2: Pending contact requests
CREATE TABLE msn_pending_request (
    bridge_id     TEXT   NOT NULL,
    login_id      TEXT   NOT NULL,
    passport      TEXT   NOT NULL,
    friendly_name TEXT   NOT NULL DEFAULT '',
    received_at   BIGINT NOT NULL,

    PRIMARY KEY (bridge_id, login_id, passport)
);

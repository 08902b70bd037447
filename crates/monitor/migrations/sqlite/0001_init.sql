-- scs-kaas monitor schema v1 (SQLite). Timestamps are UTC microseconds since the Unix epoch.
CREATE TABLE account (
    accountid INTEGER PRIMARY KEY AUTOINCREMENT,
    subject TEXT NOT NULL UNIQUE,
    roles BIGINT NOT NULL,
    grp TEXT
);
CREATE TABLE apikey (
    accountid BIGINT NOT NULL REFERENCES account (accountid) ON DELETE CASCADE,
    apikeyhash TEXT NOT NULL,
    UNIQUE (accountid, apikeyhash)
);
CREATE TABLE publickey (
    accountid BIGINT NOT NULL REFERENCES account (accountid) ON DELETE CASCADE,
    keyname TEXT NOT NULL,
    keytype TEXT NOT NULL,
    keyblob TEXT NOT NULL,
    UNIQUE (accountid, keyname)
);
CREATE TABLE delegation (
    delegateid BIGINT NOT NULL REFERENCES account (accountid) ON DELETE CASCADE,
    accountid BIGINT NOT NULL REFERENCES account (accountid) ON DELETE CASCADE,
    UNIQUE (delegateid, accountid)
);
CREATE TABLE report (
    reportid INTEGER PRIMARY KEY AUTOINCREMENT,
    reportuuid TEXT NOT NULL UNIQUE,
    checked_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    subject TEXT NOT NULL,
    scopeuuid TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX report_subject_checked ON report (subject, checked_at DESC);
CREATE INDEX report_checked ON report (checked_at DESC);
CREATE TABLE result2 (
    resultid INTEGER PRIMARY KEY AUTOINCREMENT,
    checked_at BIGINT NOT NULL,
    subject TEXT NOT NULL,
    scopeuuid TEXT NOT NULL,
    version TEXT NOT NULL,
    testcase TEXT NOT NULL,
    result BIGINT NOT NULL,
    approval BIGINT NOT NULL,
    reportid BIGINT NOT NULL REFERENCES report (reportid) ON DELETE CASCADE
);
CREATE INDEX result2_latest ON result2 (subject, scopeuuid, testcase, checked_at DESC);
CREATE INDEX result2_checked ON result2 (checked_at);
CREATE INDEX result2_report ON result2 (reportid);

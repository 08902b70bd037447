-- scs-kaas monitor schema v2 (SQLite): the two tables every upload writes lose AUTOINCREMENT
-- (plain rowid keys: no sqlite_sequence update per insert; ids are never deleted and reused
-- only after the newest row was deleted, which the monitor never does) and the index
-- result2_latest, which no query reads (the result cache is filled through result2_checked).
-- SQLite cannot drop AUTOINCREMENT in place, so both tables are rebuilt; result2 is dropped
-- before report, so dropping report cascades to nothing.
CREATE TABLE report_v2 (
    reportid INTEGER PRIMARY KEY,
    reportuuid TEXT NOT NULL UNIQUE,
    checked_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    subject TEXT NOT NULL,
    scopeuuid TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE result2_v2 (
    resultid INTEGER PRIMARY KEY,
    checked_at BIGINT NOT NULL,
    subject TEXT NOT NULL,
    scopeuuid TEXT NOT NULL,
    version TEXT NOT NULL,
    testcase TEXT NOT NULL,
    result BIGINT NOT NULL,
    approval BIGINT NOT NULL,
    reportid BIGINT NOT NULL REFERENCES report_v2 (reportid) ON DELETE CASCADE
);
INSERT INTO report_v2 (reportid, reportuuid, checked_at, received_at, subject, scopeuuid, data)
    SELECT reportid, reportuuid, checked_at, received_at, subject, scopeuuid, data FROM report;
INSERT INTO result2_v2 (resultid, checked_at, subject, scopeuuid, version, testcase, result,
                        approval, reportid)
    SELECT resultid, checked_at, subject, scopeuuid, version, testcase, result, approval, reportid
    FROM result2;
DROP TABLE result2;
DROP TABLE report;
ALTER TABLE report_v2 RENAME TO report;
ALTER TABLE result2_v2 RENAME TO result2;
CREATE INDEX report_subject_checked ON report (subject, checked_at DESC);
CREATE INDEX report_checked ON report (checked_at DESC);
CREATE INDEX result2_checked ON result2 (checked_at);
CREATE INDEX result2_report ON result2 (reportid);

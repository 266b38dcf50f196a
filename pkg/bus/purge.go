package bus

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// TypePurgeDue is the CloudEvents type of a purge of expired sign-in data
// falling due.
const TypePurgeDue = "dev.inframind.identity.purge.v1"

// PurgeHop is the furthest ahead a purge is scheduled in one step. The
// stream's retention (MaxAge, 7 days by default) applies to a schedule as
// to any message, and a session lasts 30 days; so a purge due later than
// this fires at the hop first, and its handler schedules it again
// (PurgeSchedule with the same due time) until it is due.
const PurgeHop = 24 * time.Hour

// purgeData is the data of a purge message: when it is due.
type purgeData struct {
	Due time.Time `json:"due"`
}

// PurgeSchedule is the message that schedules a purge of expired sign-in
// data (sessions, refresh tokens and their use claims) due at due, as seen
// at now: the broker publishes it to SubjectPurgeDue at due, or at now +
// PurgeHop if that is sooner (ADR 0041). Its subject is the due time, so a
// later schedule of the same purge replaces an earlier one, and its id the
// due and firing times, so a repeat within the dedup window is stored once.
func PurgeSchedule(source string, due, now time.Time) Message {
	due = due.UTC().Truncate(time.Second)
	at := due
	if hop := now.UTC().Add(PurgeHop).Truncate(time.Second); hop.Before(at) {
		at = hop
	}
	b, _ := json.Marshal(purgeData{Due: due}) // a struct of one time cannot fail to encode
	return Message{
		ID:   "purge." + strconv.FormatInt(due.Unix(), 10) + "." + strconv.FormatInt(at.Unix(), 10),
		Type: TypePurgeDue, Source: source,
		Subject: SubjectPurgeSchedule(due), Tenant: PurgeScope, CESubject: "expired-sign-in-data", Time: at,
		Data:     b,
		Schedule: &Schedule{At: at, Target: SubjectPurgeDue()},
	}
}

// PurgeDue returns when the purge a due message carries is due; before
// then it fired at a hop and is to be scheduled again.
func PurgeDue(e *Event) (time.Time, error) {
	var d purgeData
	if err := json.Unmarshal(e.Data, &d); err != nil || d.Due.IsZero() {
		return time.Time{}, Permanent(fmt.Errorf("a purge message without its due time: %q", e.Data))
	}
	return d.Due, nil
}

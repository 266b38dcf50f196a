package store

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/event"
)

// CountCommands calls count with the name of every command the store sends
// (find, insert, update, findAndModify, ...) as it is sent: the services
// export it as a metric, and the benchmark reads reads and writes per
// assessment from it. It replaces any other command monitor.
func CountCommands(count func(command string)) Option {
	return WithCommandMonitor(&event.CommandMonitor{
		Started: func(_ context.Context, e *event.CommandStartedEvent) { count(e.CommandName) },
	})
}

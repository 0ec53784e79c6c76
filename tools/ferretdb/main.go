// Command ferretdb-embedded runs FerretDB v1 with its SQLite backend as a local,
// MongoDB-compatible server for development and tests. Production uses real MongoDB;
// nothing in the service depends on this program.
//
// The upstream `ferretdb` binary built by `go install` panics at start-up because its
// version check needs a generated file that module downloads lack; embedding skips it.
//
// scripts/services.sh builds it against a copy of the FerretDB module with patches/*.patch applied
// (in name order, each on top of the previous ones); each patch opens with its design:
//
//   - 0001: `_id` equality is pushed down to SQLite whatever else the filter holds.
//   - 0002: single-document atomicity, as MongoDB keeps it. FerretDB's update, findAndModify and
//     delete read the matching documents and write them back in two steps, so two guarded
//     compare-and-set writes could both take the same version. The patch holds one lock per
//     (database, collection) around each write statement's read and write (inserts included);
//     readers take none and see each write whole (SQLite WAL, one transaction per write).
//     test/dev-server-atomicity.test.ts is the probe.
//   - 0003: the `_id_` index is used as MongoDB uses it. Upstream spelled `_id` differently from the
//     index expression, so even `_id` equality (and every update and delete by `_id`) scanned the
//     table, and every `_id` range or sort decoded and sorted the whole collection in Go before its
//     first document. The patch turns ObjectId ranges and `$type: "objectId"` into index ranges
//     (MongoDB compares one type only, and ObjectIds' stored text orders like ObjectIds), orders by
//     the index when the filter admits ObjectIds alone (the handler then streams instead of sorting),
//     serves `find({}).sort({_id: 1})` as the few non-ObjectId documents sorted in memory around the
//     ObjectId ones streamed in index order, and answers `{_id: 1}` projections without parsing
//     documents. The handler still applies the whole filter, so pushdown only narrows. test/dev-server-id-index.test.ts pins the results with
//     mixed `_id` types; bench/scenarios/dev-server.ts measures it.
//   - 0004: secondary indexes narrow equalities. createIndexes made expression indexes that no query
//     used, so listing one user's conversations decoded and filtered the whole collection in Go. The
//     patch turns an equality with a string or ObjectId on a field that leads an index (top level, in
//     `$and`, or in every branch of an `$or`, as listByUser's owner filter) into index ranges: the
//     stored JSON string, and every JSON array (MongoDB also matches arrays holding the value). The
//     handler still applies the whole filter; order and limit stay in the handler.
//     test/dev-server-owner-index.test.ts pins the results with mixed owner fields and the plan.
//   - 0005: lower bounds on dates narrow too. The catch-up's reads ({updated: {$gt: T}}, alone or in an
//     `$or` with an `_id` range) decoded the whole collection for every pass, the cutover's final pass
//     included, while every write waits. createIndexes also indexes the leading field's SQL value
//     (`->>`, a date's milliseconds), and a lower bound on a date becomes a range of that index (an
//     array is TEXT, after every number, so it is admitted); an `$or` branch may narrow by `_id`.
//     test/dev-server-updated-index.test.ts pins the results with mixed `updated` values and the plan.
//
// What stays weaker than MongoDB (README, "The dev server is not MongoDB"): secondary indexes only
// narrow equalities and lower bounds on dates (no other ranges, no sorts), every document returned is
// decoded in Go, one writer per collection and per database file.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	dataDir := flag.String("data", "./data/ferretdb", "directory for the SQLite files (created if missing)")
	logLevel := flag.String("log-level", "warn", "debug, info, warn or error")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "bad -log-level %q: %v\n", *logLevel, err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	abs, err := filepath.Abs(*dataDir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bad -data %q: %v\n", *dataDir, err)
		os.Exit(2)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		fmt.Fprintf(os.Stderr, "cannot create %s: %v\n", abs, err)
		os.Exit(1)
	}

	// _txlock=immediate: every write transaction takes SQLite's write lock when it begins. With the
	// default (deferred) a transaction that read first and then writes fails at once with SQLITE_BUSY
	// when another connection wrote meanwhile (WAL never lets a stale reader upgrade), whatever the
	// busy timeout; concurrent updates of one collection then fail under load instead of waiting.
	//
	// synchronous(normal): a commit is written to the write-ahead log but not fsynced (the log is synced
	// at checkpoints). That is MongoDB's own default (w: 1 without j: acknowledged once in the journal's
	// buffers, which are flushed to disk every 100 ms): an acknowledged write survives the server
	// process dying (SIGKILL included), not the machine losing power in that interval. SQLite's default
	// (full) fsyncs every commit, stronger than MongoDB and the bulk of a small write's latency here.
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/?_txlock=immediate&_pragma=synchronous(normal)",
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb: %v\n", err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	logger.Info("ferretdb listening", "addr", *listen, "data", abs)
	if err := f.Run(ctx); err != nil && ctx.Err() == nil {
		fmt.Fprintf(os.Stderr, "ferretdb: %v\n", err)
		os.Exit(1)
	}
}

package bench

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver takes the OTLP/HTTP trace exports of services in their own
// processes (IM_OTLP_ENDPOINT) into a span sink, so the processes
// deployment has the same breakdown as the embedded one.
type otlpReceiver struct {
	sink *spanSink
	srv  *http.Server
	addr string
}

// maxExport bounds one export request's body.
const maxExport = 64 << 20

func startOTLPReceiver(sink *spanSink) (*otlpReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &otlpReceiver{sink: sink, addr: ln.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", r.export)
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

// endpoint is the base URL the services export to.
func (r *otlpReceiver) endpoint() string { return "http://" + r.addr }

func (r *otlpReceiver) close(ctx context.Context) error {
	if err := r.srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (r *otlpReceiver) export(w http.ResponseWriter, req *http.Request) {
	var body io.Reader = http.MaxBytesReader(w, req.Body, maxExport)
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		defer func() { _ = zr.Close() }()
		body = io.LimitReader(zr, maxExport)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var in coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &in); err != nil {
		http.Error(w, "an OTLP protobuf ExportTraceServiceRequest is expected: "+err.Error(), http.StatusBadRequest)
		return
	}
	for _, rs := range in.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				var rec recordedSpan
				copy(rec.Trace[:], sp.GetTraceId())
				copy(rec.ID[:], sp.GetSpanId())
				copy(rec.Parent[:], sp.GetParentSpanId())
				rec.Name = sp.GetName()
				rec.Start = time.Unix(0, int64(sp.GetStartTimeUnixNano())) //nolint:gosec // nanoseconds since 1970 fit until 2262
				rec.End = time.Unix(0, int64(sp.GetEndTimeUnixNano()))     //nolint:gosec // as above
				for _, a := range sp.GetAttributes() {
					if a.GetKey() == string(consumerAttr) {
						rec.Consumer = a.GetValue().GetStringValue()
					}
				}
				rec.Events = make(map[string]time.Time, len(sp.GetEvents()))
				for _, e := range sp.GetEvents() {
					if _, ok := rec.Events[e.GetName()]; !ok {
						rec.Events[e.GetName()] = time.Unix(0, int64(e.GetTimeUnixNano())) //nolint:gosec // as above
					}
				}
				if rec.Trace != (trace.TraceID{}) {
					r.sink.add(rec)
				}
			}
		}
	}
	out, err := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

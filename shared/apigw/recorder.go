package apigw

import (
	"bytes"
	"fmt"
	"net/http"
)

// recorder is the http.ResponseWriter handed to the handler. A Lambda proxy
// integration answers with one complete response, so everything is
// buffered. It follows net/http's server semantics where they are
// observable to a handler:
//
//   - the status defaults to 200 on the first Write (http.ResponseWriter);
//   - only the first WriteHeader counts, and 1xx interim responses are
//     dropped (a proxy integration cannot send them; RFC 9110 §15.2);
//   - headers changed after WriteHeader have no effect (the header map is
//     snapshotted then);
//   - Write fails with http.ErrBodyNotAllowed for 204 and 304, whose
//     responses have no content (RFC 9110 §15.3.5, §15.4.5).
//
// It is not safe for concurrent use, like net/http's own ResponseWriter.
type recorder struct {
	header      http.Header // handler-visible, mutable
	sent        http.Header // snapshot taken at WriteHeader
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

var _ http.Flusher = (*recorder)(nil)

func newRecorder() *recorder {
	return &recorder{header: make(http.Header)}
}

// Header implements http.ResponseWriter.
func (w *recorder) Header() http.Header { return w.header }

// WriteHeader implements http.ResponseWriter.
func (w *recorder) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	if code < 100 || code > 999 {
		// Same contract as net/http's server.
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code < 200 {
		return
	}
	w.status = code
	w.wroteHeader = true
	w.sent = w.header.Clone()
}

// Write implements http.ResponseWriter.
func (w *recorder) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	return w.body.Write(p)
}

// WriteString implements io.StringWriter.
func (w *recorder) WriteString(s string) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	return w.body.WriteString(s)
}

// Flush implements http.Flusher. Nothing can be streamed through a proxy
// integration, so it only commits the status and headers, as net/http's
// Flush does.
func (w *recorder) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
}

// result returns the final status, header and body. A handler that wrote
// nothing answers 200 with the headers it set.
func (w *recorder) result() (int, http.Header, []byte) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.status, w.sent, w.body.Bytes()
}

// bodyAllowed reports whether a response with this status may carry
// content (RFC 9110 §6.4.1).
func bodyAllowed(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified
}

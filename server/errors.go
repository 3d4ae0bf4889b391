package server

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"
)

// apiError is the JSON error body: the plugin reads "detail", then "message".
type apiError struct {
	Status  int    `json:"-"`
	Detail  any    `json:"detail"`
	Message string `json:"message,omitempty"`
	// Fields names the invalid fields, when there are several.
	Fields map[string]string `json:"fields,omitempty"`
}

func (e *apiError) Error() string {
	if s, ok := e.Detail.(string); ok {
		return s
	}
	return e.Message
}

// fail returns an error rendered as {"detail": detail, "message": detail}.
func fail(status int, detail string) error {
	return &apiError{Status: status, Detail: detail, Message: detail}
}

// errorHandler renders every error as JSON with "detail". Internal errors
// are logged with the request id and reported without their text.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var ae *apiError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &he):
		msg := http.StatusText(he.Code)
		if m, ok := he.Message.(string); ok && m != "" {
			msg = m
		}
		switch he.Code {
		case http.StatusNotFound:
			msg = "Not Found"
		case http.StatusMethodNotAllowed:
			msg = "Method Not Allowed"
		case http.StatusRequestEntityTooLarge:
			msg = "Request body too large."
		}
		ae = &apiError{Status: he.Code, Detail: msg, Message: msg}
	default:
		s.log.Error("request failed", "method", c.Request().Method, "path", c.Path(), "err", err,
			"request_id", c.Response().Header().Get(echo.HeaderXRequestID))
		ae = &apiError{Status: http.StatusInternalServerError, Detail: "An unexpected error occurred.", Message: "Internal server error"}
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(ae.Status)
		return
	}
	_ = c.JSON(ae.Status, ae)
}

package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// Delete erases an assessment with everything derived from it, its
// versions and scenarios included (DELETE /v1/assessments/{id}). An id that
// is missing, already erased or another tenant's is a *Problem with status
// 404; one still running is a *Problem with status 409 whose RetryAfter
// says when it ends at the latest.
func (c *Client) Delete(ctx context.Context, id string) error {
	path := "/v1/assessments/" + url.PathEscape(id)
	req, err := c.request(ctx, http.MethodDelete, path, nil, "")
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", http.MethodDelete, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusNoContent {
		return decodeProblem(resp)
	}
	return nil
}

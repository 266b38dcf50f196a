package client

import (
	"context"
	"encoding/json"
	"net/http"
)

// EstimateInference posts an inference estimate request (JSON, see the
// InferenceEstimateRequest schema) and returns the gateway's answer as JSON.
// An infeasible deployment is an answer with feasible false, not an error;
// a malformed request is a *Problem naming the fields.
func (c *Client) EstimateInference(ctx context.Context, body []byte) (json.RawMessage, error) {
	return c.estimate(ctx, "/v1/estimates/inference", body)
}

// EstimateTraining posts a training estimate request (JSON, see the
// TrainingEstimateRequest schema) and returns the gateway's answer as JSON.
func (c *Client) EstimateTraining(ctx context.Context, body []byte) (json.RawMessage, error) {
	return c.estimate(ctx, "/v1/estimates/training", body)
}

func (c *Client) estimate(ctx context.Context, path string, body []byte) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.do(ctx, http.MethodPost, path, body, "application/json", http.StatusOK, &out)
	return out, err
}

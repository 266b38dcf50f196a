package store

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Conversation is one user's chat with the consultant about one assessment.
// _id = ConversationKey(tenant, conversation id), so a read by key is
// tenant-scoped by construction; only the user who started it reads it.
// The turns are kept in the document (one atomic write per turn), so a
// conversation is bounded by the consultant's turn cap.
type Conversation struct {
	Key            string        `bson:"_id" json:"-"`
	ConversationID string        `bson:"conversation_id" json:"id"`
	TenantID       string        `bson:"tenant_id" json:"tenant_id"`
	AssessmentID   string        `bson:"assessment_id" json:"assessment_id"`
	UserID         string        `bson:"user_id" json:"user_id"`
	Title          string        `bson:"title" json:"title"`
	Messages       []ChatMessage `bson:"messages" json:"messages"`
	// Turns counts the messages (Messages is not read by List).
	Turns     int       `bson:"turns" json:"turns"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
	UpdatedAt time.Time `bson:"updated_at" json:"updated_at"`
}

// ChatMessage is one turn of a conversation: the user's question or the
// consultant's answer with the tools it called.
type ChatMessage struct {
	// Role is user or assistant.
	Role    string `bson:"role" json:"role"`
	Content string `bson:"content" json:"content"`
	// Tools are the tool calls behind an answer, with their results.
	Tools []ChatToolUse `bson:"tools,omitempty" json:"tools,omitempty"`
	// Generated is set for an answer written by the model that passed the
	// number check; Note says why an answer is not (or what else happened).
	Generated bool      `bson:"generated,omitempty" json:"generated,omitempty"`
	Note      string    `bson:"note,omitempty" json:"note,omitempty"`
	Provider  string    `bson:"provider,omitempty" json:"provider,omitempty"`
	Model     string    `bson:"model,omitempty" json:"model,omitempty"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
}

// ChatToolUse is one tool call and its (capped) JSON result or refusal.
type ChatToolUse struct {
	Name      string `bson:"name" json:"name"`
	Arguments string `bson:"arguments" json:"arguments"`
	Result    string `bson:"result,omitempty" json:"result,omitempty"`
	Error     string `bson:"error,omitempty" json:"error,omitempty"`
}

// ConversationKey is the _id of tenant's conversation id.
func ConversationKey(tenant, id string) string { return tenant + "/conversation/" + id }

// Conversations repository.
type Conversations struct {
	coll *mongo.Collection
}

// Create stores a new conversation; an id that exists is ErrConflict.
func (r *Conversations) Create(ctx context.Context, c Conversation) error {
	if err := required("create conversation", "tenant", c.TenantID, "conversation id", c.ConversationID,
		"assessment id", c.AssessmentID, "user", c.UserID); err != nil {
		return err
	}
	c.Key = ConversationKey(c.TenantID, c.ConversationID)
	c.CreatedAt = orNow(c.CreatedAt)
	c.UpdatedAt = c.CreatedAt
	if c.Messages == nil {
		c.Messages = []ChatMessage{}
	}
	c.Turns = len(c.Messages)
	if _, err := r.coll.InsertOne(ctx, c); err != nil {
		return wrap("create conversation "+c.ConversationID, err)
	}
	return nil
}

// Get returns user's conversation id of tenant, read by its key; another
// tenant's or another user's reads like a missing one (ErrNotFound).
func (r *Conversations) Get(ctx context.Context, tenant, user, id string) (Conversation, error) {
	if err := required("get conversation", "tenant", tenant, "user", user, "conversation id", id); err != nil {
		return Conversation{}, err
	}
	var c Conversation
	if err := findByKey(ctx, r.coll, tenant, ConversationKey(tenant, id), &c, func() string { return c.TenantID }); err != nil {
		return Conversation{}, wrap("get conversation "+id, err)
	}
	if c.UserID != user {
		return Conversation{}, fmt.Errorf("store: get conversation %s: %w", id, ErrNotFound)
	}
	return c, nil
}

// MaxListedConversations bounds List.
const MaxListedConversations = 100

// List returns user's conversations about an assessment of tenant, newest
// first, without their messages (at most MaxListedConversations).
func (r *Conversations) List(ctx context.Context, tenant, user, assessmentID string) ([]Conversation, error) {
	if err := required("list conversations", "tenant", tenant, "user", user, "assessment id", assessmentID); err != nil {
		return nil, err
	}
	filter := bson.D{{Key: "tenant_id", Value: tenant}, {Key: "assessment_id", Value: assessmentID}, {Key: "user_id", Value: user}}
	opts := options.Find().SetProjection(bson.D{{Key: "messages", Value: 0}}).
		SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(MaxListedConversations)
	cur, err := r.coll.Find(ctx, filter, opts)
	if err != nil {
		return nil, wrap("list conversations of "+assessmentID, err)
	}
	out := []Conversation{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, wrap("list conversations of "+assessmentID, err)
	}
	return out, nil
}

// Append adds messages to the end of tenant's conversation id in one
// atomic update by key. The caller has read the conversation with Get, which
// checked its user.
func (r *Conversations) Append(ctx context.Context, tenant, id string, msgs ...ChatMessage) error {
	if err := required("append to conversation", "tenant", tenant, "conversation id", id); err != nil {
		return err
	}
	if len(msgs) == 0 {
		return nil
	}
	now := nowUTC()
	for i := range msgs {
		msgs[i].CreatedAt = orNow(msgs[i].CreatedAt)
	}
	res, err := r.coll.UpdateOne(ctx, byKey(ConversationKey(tenant, id)), bson.D{
		{Key: "$push", Value: bson.D{{Key: "messages", Value: bson.D{{Key: "$each", Value: msgs}}}}},
		{Key: "$inc", Value: bson.D{{Key: "turns", Value: len(msgs)}}},
		{Key: "$set", Value: bson.D{{Key: "updated_at", Value: now}}},
	})
	if err != nil {
		return wrap("append to conversation "+id, err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("store: append to conversation %s: %w", id, ErrNotFound)
	}
	return nil
}

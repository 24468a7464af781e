-- Hide & Reveal checkpoints (h's LMS feature, h/models/checkpoint.py, h/services/checkpoint.py):
-- in a group, students do not see classmates' annotations on a document until its reveal date.
ALTER TABLE group_members ADD COLUMN lms_role TEXT;  -- lms_instructor | lms_student | NULL

CREATE TABLE checkpoints (
    id              BIGSERIAL PRIMARY KEY,
    group_id        BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    document_id     BIGINT NOT NULL REFERENCES documents(id),
    reveal_date     BIGINT,                    -- micros since the epoch; NULL: not yet scheduled
    created         BIGINT NOT NULL
);
CREATE INDEX checkpoints_scope ON checkpoints(group_id, document_id);

//! The Hub-compatible routes (`src/hub/`): downloads and uploads as `huggingface_hub` drives them.

mod download;
mod upload;

//! The Hub-compatible routes (`src/hub/`): downloads and uploads as `huggingface_hub` drives them.

mod cards;
mod download;
mod history;
mod likes;
mod models;
mod settings;
mod upload;

"""Text preprocessing that training and serving share (one tokenizer, one place)."""

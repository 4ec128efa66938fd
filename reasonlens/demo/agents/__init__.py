"""One module per demo agent: its versions, tools, prompt and the stories it plays out."""

# Start the room application on this panel's hardware.
import app.main
import hardware

app.main.run(hardware.Board())

import evaluate
from evaluate.utils import launch_gradio_widget

module = evaluate.load("mmsy_syc")
launch_gradio_widget(module)

/** A canvas to draw digits on with the mouse or a finger, read back as MNIST pixels. */
import { toMnist } from "./preprocess.js";

/** A canvas to draw on with the mouse (or a finger); `onStroke` runs when a stroke ends. */
export class DrawingPad {
  private drawing = false;
  private readonly ctx: CanvasRenderingContext2D;

  constructor(
    readonly canvas: HTMLCanvasElement,
    onStroke: () => void,
  ) {
    this.ctx = canvas.getContext("2d", { willReadFrequently: true })!;
    this.clear();
    const at = (e: PointerEvent): [number, number] => {
      const r = canvas.getBoundingClientRect();
      return [
        ((e.clientX - r.left) * canvas.width) / r.width,
        ((e.clientY - r.top) * canvas.height) / r.height,
      ];
    };
    canvas.addEventListener("pointerdown", (e) => {
      this.drawing = true;
      canvas.setPointerCapture?.(e.pointerId);
      const [x, y] = at(e);
      this.ctx.beginPath();
      this.ctx.moveTo(x, y);
      this.ctx.lineTo(x + 0.01, y);
      this.ctx.stroke();
    });
    canvas.addEventListener("pointermove", (e) => {
      if (!this.drawing) return;
      const [x, y] = at(e);
      this.ctx.lineTo(x, y);
      this.ctx.stroke();
    });
    const end = () => {
      if (!this.drawing) return;
      this.drawing = false;
      onStroke();
    };
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointerleave", end);
  }

  clear(): void {
    const { ctx, canvas } = this;
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = canvas.width / 12;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
  }

  /** The drawing as MNIST pixels, or undefined when the canvas is blank. */
  pixels(): Float32Array | undefined {
    const { width: w, height: h } = this.canvas;
    const rgba = this.ctx.getImageData(0, 0, w, h).data;
    const ink = new Float32Array(w * h);
    for (let i = 0; i < w * h; i++) ink[i] = rgba[i * 4]! / 255;
    return toMnist(ink, w, h);
  }

  /** Shows 784 pixels (a test image) on the pad, scaled up. */
  showImage(pixels: ArrayLike<number>): void {
    const { ctx, canvas } = this;
    const img = ctx.createImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const v = Math.round(pixels[i]! * 255);
      img.data.set([v, v, v, 255], i * 4);
    }
    const tmp = document.createElement("canvas");
    tmp.width = 28;
    tmp.height = 28;
    tmp.getContext("2d")!.putImageData(img, 0, 0);
    this.clear();
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(tmp, 0, 0, canvas.width, canvas.height);
  }
}

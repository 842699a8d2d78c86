import { type Ref, onBeforeUnmount, onMounted, ref, watch } from 'vue';

const ASPECT = 16 / 9;
export const GRID_GAP = 8;

export interface GridFit {
  columns: number;
  tileWidth: number;
}

/** The column count that makes `count` 16:9 tiles as large as possible inside width × height. */
export function bestFit(count: number, width: number, height: number): GridFit {
  let best: GridFit = { columns: 1, tileWidth: 0 };
  for (let columns = 1; columns <= Math.max(1, count); columns++) {
    const rows = Math.ceil(count / columns);
    const byWidth = (width - GRID_GAP * (columns - 1)) / columns;
    const byHeight = ((height - GRID_GAP * (rows - 1)) / rows) * ASPECT;
    const tileWidth = Math.floor(Math.min(byWidth, byHeight));
    if (tileWidth > best.tileWidth) best = { columns, tileWidth };
  }
  return best;
}

export function useGridLayout(container: Ref<HTMLElement | undefined>, count: Ref<number>) {
  const fit = ref<GridFit>({ columns: 1, tileWidth: 320 });
  let observer: ResizeObserver | undefined;
  const update = () => {
    const el = container.value;
    if (!el) return;
    const style = getComputedStyle(el);
    const width = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const height = el.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
    fit.value = bestFit(count.value, width, height);
  };
  onMounted(() => {
    observer = new ResizeObserver(update);
    if (container.value) observer.observe(container.value);
    update();
  });
  watch(count, update);
  onBeforeUnmount(() => observer?.disconnect());
  return { fit };
}

import { createRouter, createWebHistory } from 'vue-router';
import HomeView from './views/HomeView.vue';
import RoomView from './views/RoomView.vue';

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/', name: 'home', component: HomeView },
    { path: '/room/:roomId', name: 'room', component: RoomView, props: true },
    { path: '/:pathMatch(.*)*', redirect: '/' },
  ],
});
